using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>
/// An S3 endpoint with a path, as a Fluid AlluxioRuntime's gateway serves it (<c>http://master:39999/api/v1/s3</c>):
/// every request the sidecar's S3 source sends must keep that path in front of <c>/bucket/key</c>. moto is the store;
/// <see cref="FaultProxy"/> in front of it serves only under the prefix (as the gateway does) and records the paths.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class S3GatewayPathPrefixTests(MotoServerFixture moto) : IAsyncLifetime
{
    private const string GatewayPath = "/api/v1/s3";
    private FaultProxy _gateway = null!;

    public async Task InitializeAsync() => _gateway = await FaultProxy.StartAsync(moto.Endpoint, GatewayPath);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task HeadListAndRangedRead_EndpointWithAPath_EveryRequestKeepsThePathAndBytesAreEqual()
    {
        var content = new byte[300_000];
        new Random(7).NextBytes(content);
        var bucket = await moto.CreateBucketAsync("gateway");
        await moto.PutAsync(bucket, "models/resnet.bin", content);
        var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "imagenet",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string>
            {
                ["endpoint"] = _gateway.Endpoint + GatewayPath,
                ["pathStyle"] = "true",
                ["accessKeyId"] = moto.AccessKey,
                ["secretAccessKey"] = moto.SecretKey,
            },
        });

        var obj = await source.HeadAsync("models/resnet.bin", default) ?? throw new InvalidOperationException("HEAD found nothing under the gateway path");
        var page = await source.ListAsync(new ListRequest("models/", "/", null, 100), default);
        var head = new byte[1000];
        await source.ReadAsync(obj, 1000, head, default);

        Assert.Equal(content.Length, obj.Size);
        Assert.Equal(["models/resnet.bin"], page.Objects.Select(o => o.Key));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(content.AsSpan(1000, 1000))), Convert.ToHexString(SHA256.HashData(head)));
        Assert.NotEmpty(_gateway.Paths);
        Assert.All(_gateway.Paths, path => Assert.StartsWith(GatewayPath + "/" + bucket, path, StringComparison.Ordinal));
    }
}
