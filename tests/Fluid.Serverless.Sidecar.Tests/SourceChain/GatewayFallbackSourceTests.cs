using System.Text;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.SourceChain;

/// <summary>
/// A dataset read through its runtime's gateway with the dataset's own source behind it. Both sides are real local
/// directories (no Alluxio runs here); the gateway's copy of an object holds different bytes of the same size, so each
/// test can tell which side served a read.
/// </summary>
public sealed class GatewayFallbackSourceTests : IDisposable
{
    private readonly TempDirectory _gatewayRoot = new();
    private readonly TempDirectory _sourceRoot = new();

    public void Dispose()
    {
        _gatewayRoot.Dispose();
        _sourceRoot.Dispose();
    }

    [Fact]
    public async Task Read_GatewayHasTheObject_BytesFromGatewayMetadataFromSource()
    {
        _sourceRoot.Write("train/a.bin", "source-bytes");
        _gatewayRoot.Write("train/a.bin", "gatewaybytes");
        await using var dataset = Wrap();

        var obj = await dataset.HeadAsync("train/a.bin", CancellationToken.None);
        var text = await ReadAsync(dataset, obj!);

        Assert.Equal("gatewaybytes", text);
        Assert.Equal((await new LocalObjectSource(_sourceRoot.Path).HeadAsync("train/a.bin", CancellationToken.None))!.ETag, obj!.ETag);
        Assert.Equal(new LocalObjectSource(_sourceRoot.Path, "source").Identity, dataset.Identity);
        Assert.Equal((1, 0), (dataset.GatewayReads, dataset.Fallbacks));
    }

    [Fact]
    public async Task Read_GatewayLacksObjectOrHasAnotherSize_FallsBackToSource()
    {
        _sourceRoot.Write("missing.bin", "only-in-source");
        _sourceRoot.Write("resized.bin", "new-longer-version");
        _gatewayRoot.Write("resized.bin", "old-version");
        await using var dataset = Wrap();

        Assert.Equal("only-in-source", await ReadAsync(dataset, (await dataset.HeadAsync("missing.bin", CancellationToken.None))!));
        Assert.Equal("new-longer-version", await ReadAsync(dataset, (await dataset.HeadAsync("resized.bin", CancellationToken.None))!));
        Assert.Equal((0, 2), (dataset.GatewayReads, dataset.Fallbacks));
    }

    [Fact]
    public async Task Read_GatewayLosesObjectAfterHead_FallsBackThenRecovers()
    {
        _sourceRoot.Write("a.bin", "source-bytes");
        var onGateway = _gatewayRoot.Write("a.bin", "gatewaybytes");
        await using var dataset = Wrap();
        var obj = (await dataset.HeadAsync("a.bin", CancellationToken.None))!;
        Assert.Equal("gatewaybytes", await ReadAsync(dataset, obj));

        File.Delete(onGateway);
        Assert.Equal("source-bytes", await ReadAsync(dataset, obj));

        _gatewayRoot.Write("a.bin", "gatewaybytes");
        Assert.Equal("gatewaybytes", await ReadAsync(dataset, obj));
        Assert.Equal((2, 1), (dataset.GatewayReads, dataset.Fallbacks));
    }

    [Fact]
    public async Task SourceFactory_DatasetWithGateway_ReadsThroughGateway()
    {
        _sourceRoot.Write("a.bin", "source-bytes");
        _gatewayRoot.Write("a.bin", "gatewaybytes");
        var config = new DatasetConfig
        {
            Name = "imagenet",
            Source = "local://" + _sourceRoot.Path,
            Gateway = new DatasetGatewayConfig { Source = "local://" + _gatewayRoot.Path },
        };
        await using var dataset = new SourceFactory(_ => null).Create(config);

        var obj = (await dataset.HeadAsync("a.bin", CancellationToken.None))!;

        Assert.IsType<GatewayFallbackSource>(dataset);
        Assert.Equal("gatewaybytes", await ReadAsync(dataset, obj));
    }

    private GatewayFallbackSource Wrap() =>
        new(new LocalObjectSource(_gatewayRoot.Path, "gateway"), new LocalObjectSource(_sourceRoot.Path, "source"));

    private static async Task<string> ReadAsync(IObjectSource source, RemoteObject obj)
    {
        var buffer = new byte[obj.Size];
        await source.ReadAsync(obj, 0, buffer, CancellationToken.None);
        return Encoding.UTF8.GetString(buffer);
    }
}
