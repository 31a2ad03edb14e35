using System.Globalization;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// Span fetches against real parts: moto as the remote, the sidecar's own S3 source (AWSSDK.S3 with its resilience
/// pipeline) and <see cref="FaultProxy"/> between them to count GETs, read their Range headers and break a body
/// midway. The cache and the reader are the product's.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class ObjectReaderSpanRealRemoteTests(MotoServerFixture moto) : IAsyncLifetime
{
    private const int BlockSize = 64 * 1024;
    private readonly TempDirectory _dir = new();
    private FaultProxy _proxy = null!;

    public async Task InitializeAsync() => _proxy = await FaultProxy.StartAsync(moto.Endpoint);

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(8, 5)]
    [InlineData(1, 40)]
    public async Task CopyToAsync_ColdSequentialRead_BytesEqualWithOneGetPerSpan(int spanBlocks, int expectedGets)
    {
        var (dataset, obj, content) = await SeedAsync(40 * BlockSize);
        await using var cache = NewCache("copy-" + spanBlocks);
        await using var reader = NewReader(cache, spanBlocks);
        var getsBefore = RangedGets();

        using var output = new MemoryStream();
        await reader.CopyToAsync(dataset, obj, 0, obj.Size, output, default);

        Assert.Equal(Sha(content), Sha(output.ToArray()));
        Assert.Equal(expectedGets, RangedGets() - getsBefore);
        Assert.Equal(40, cache.GetStatistics().RemoteFetches);
    }

    [Fact]
    public async Task WarmAsync_BodyResetMidway_CompleteBlocksKeptAndOnlyTheRestRefetched()
    {
        var (dataset, obj, content) = await SeedAsync(8 * BlockSize);
        await using var cache = NewCache("reset");
        await using var reader = NewReader(cache, spanBlocks: 8);
        var before = _proxy.Ranges.Count;
        _proxy.FailNext(1, new Fault.TruncateBody());

        await reader.WarmAsync(dataset, obj, default);

        // The first GET broke after half the body; the retry asked only for what had not arrived.
        var ranges = _proxy.Ranges.Skip(before).ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Equal($"bytes=0-{obj.Size - 1}", ranges[0]);
        var resumedAt = long.Parse(ranges[1]["bytes=".Length..ranges[1].IndexOf('-', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        Assert.InRange(resumedAt, 1, obj.Size - 1);
        Assert.EndsWith($"-{obj.Size - 1}", ranges[1], StringComparison.Ordinal);
        Assert.Equal(8, cache.GetStatistics().RemoteFetches);

        // Everything is cached and correct: reading it makes no request.
        using var output = new MemoryStream();
        await reader.CopyToAsync(dataset, obj, 0, obj.Size, output, default);
        Assert.Equal(Sha(content), Sha(output.ToArray()));
        Assert.Equal(before + 2, _proxy.Ranges.Count);
    }

    [Fact]
    public async Task ReadAsync_ConcurrentReadersDuringASpan_JoinItWithNoOtherGet()
    {
        var (dataset, obj, content) = await SeedAsync(8 * BlockSize);
        await using var cache = NewCache("single-flight");
        await using var reader = NewReader(cache, spanBlocks: 8);
        var before = _proxy.Ranges.Count;
        _proxy.FailNext(1, new Fault.SlowBody(TimeSpan.FromMilliseconds(20)));

        var warm = reader.WarmAsync(dataset, obj, default);
        await WaitUntil(() => _proxy.Ranges.Count > before); // the span's flights are registered before its GET
        var readers = Enumerable.Range(0, 16).Select(n => Task.Run(async () =>
        {
            var block = n % 8;
            var buffer = new byte[BlockSize];
            var read = await reader.ReadAsync(dataset, obj, block * (long)BlockSize, buffer, default);
            return Sha(buffer.AsSpan(0, read)) == Sha(content.AsSpan(block * BlockSize, BlockSize));
        })).ToList();

        Assert.All(await Task.WhenAll(readers), Assert.True);
        await warm;
        Assert.Equal(1, _proxy.Ranges.Count - before);
        Assert.Equal(8, cache.GetStatistics().RemoteFetches);
    }

    private int RangedGets() => _proxy.Ranges.Count(r => r.Length > 0);

    private async Task<(Dataset Dataset, RemoteObject Obj, byte[] Content)> SeedAsync(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        var bucket = await moto.CreateBucketAsync("spans");
        await moto.PutAsync(bucket, "big.bin", content);
        var config = new DatasetConfig
        {
            Name = "spans",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string>
            {
                ["endpoint"] = _proxy.Endpoint,
                ["accessKeyId"] = moto.AccessKey,
                ["secretAccessKey"] = moto.SecretKey,
                ["retryDelaySeconds"] = "0.01",
                ["retryMaxDelaySeconds"] = "0.05",
            },
        };
        var source = new SourceFactory(_ => null).Create(config);
        var obj = await source.HeadAsync("big.bin", default) ?? throw new InvalidOperationException("seeded object not found");
        return (new Dataset(config, source), obj, content);
    }

    private DiskBlockCache NewCache(string name) => new(
        new DiskBlockCacheOptions { Directory = Path.Combine(_dir.Path, name), BlockSize = BlockSize, QuotaBytes = 1L << 30, MinFreeBytes = 0 },
        NullLogger<DiskBlockCache>.Instance,
        TimeProvider.System);

    private static ObjectReader NewReader(DiskBlockCache cache, int spanBlocks) => new(
        cache,
        new ObjectReaderOptions { ReadAheadMemoryBytes = 16L * BlockSize, MaxSpanBytes = spanBlocks * (long)BlockSize },
        NullLogger<ObjectReader>.Instance,
        TimeProvider.System);

    private static string Sha(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Waits for a state, not for a duration: the bound only stops a broken test from hanging.
        for (var i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(5);
        }

        Assert.True(condition());
    }
}
