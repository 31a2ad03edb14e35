using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

/// <summary>
/// Prefetch over the real parts: DiskBlockCache, LocalObjectSource and (below) S3ObjectSource against moto. Only the
/// object reader is the test's own (BlockCacheObjectReader) until the cache helper's ObjectReader is in main.
/// </summary>
public abstract class PrefetchRealPartsTestBase : IAsyncLifetime
{
    protected const int BlockSize = 4096;
    private readonly List<DiskBlockCache> _caches = [];
    private readonly List<string> _directories = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var cache in _caches)
        {
            await cache.DisposeAsync();
        }

        foreach (var directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private protected DiskBlockCache NewDiskCache(long quotaBytes = 1L << 40)
    {
        var directory = Path.Combine(Path.GetTempPath(), "fluid-prefetch-cache-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = directory, QuotaBytes = quotaBytes, BlockSize = BlockSize, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);
        _caches.Add(cache);
        return cache;
    }

    private protected static PrefetchManager NewManager(IBlockCache cache, int workers = 8) =>
        new(new PrefetchConfig { Workers = workers }, new BlockCacheObjectReader(cache), cache, TimeProvider.System, NullLoggerFactory.Instance,
            new PrefetchOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1) });

    /// <summary>The checks the issue asks for: every block cached, exact figures, and re-reading needs no remote read.</summary>
    private protected static async Task AssertAllWarmAsync(PrefetchJob job, Dataset dataset, CountingObjectSource source, IBlockCache cache, IReadOnlyDictionary<string, byte[]> expected)
    {
        var progress = job.GetProgress();
        var totalBytes = expected.Values.Sum(b => (long)b.Length);
        Assert.Equal(PrefetchPhase.Complete, progress.Phase);
        Assert.True(progress.TotalsFinal);
        Assert.Equal(expected.Count, progress.FilesTotal);
        Assert.Equal(expected.Count, progress.FilesDone);
        Assert.Equal(0, progress.FilesFailed);
        Assert.Equal(totalBytes, progress.BytesTotal);
        Assert.Equal(totalBytes, progress.BytesDone);
        Assert.Equal(totalBytes, progress.BytesFetched);
        Assert.Empty(progress.FailedFiles);
        Assert.NotNull(progress.StartTime);
        Assert.NotNull(progress.FinishTime);
        Assert.Null(progress.EtaSeconds);

        var objects = new Dictionary<string, RemoteObject>();
        foreach (var key in expected.Keys)
        {
            var obj = (await source.HeadAsync(key, CancellationToken.None))!;
            objects[key] = obj;
            for (long block = 0; block < (obj.Size + BlockSize - 1) / BlockSize; block++)
            {
                Assert.True(cache.Contains(new BlockKey(source.Identity, key, obj.ETag, block)), $"{key} block {block}");
            }
        }

        // Read everything back the way a request would: the remote must see no read at all, and bytes must match.
        var readsBefore = source.Reads;
        var reader = new BlockCacheObjectReader(cache);
        foreach (var (key, bytes) in expected)
        {
            var buffer = new byte[bytes.Length];
            Assert.Equal(bytes.Length, await reader.ReadAsync(dataset, objects[key], 0, buffer, CancellationToken.None));
            Assert.Equal(TempDataset.Sha256(bytes), TempDataset.Sha256(buffer));
        }

        Assert.Equal(readsBefore, source.Reads);
    }

    /// <summary>1 byte to ~3 blocks, so single- and multi-block files and short last blocks all occur.</summary>
    protected static int SizeOf(int i) => 1 + (i * 37 % (3 * BlockSize));
}

public sealed class PrefetchDiskCacheTests : PrefetchRealPartsTestBase, IDisposable
{
    private readonly TempDataset _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Prefix_With2000LocalFiles_EveryBlockOnDiskAndReadsNeedNoRemote()
    {
        var expected = new Dictionary<string, byte[]>();
        for (var i = 0; i < 2000; i++)
        {
            var key = $"shard/{i % 7}/file-{i:D4}.bin";
            expected[key] = _data.Write(key, SizeOf(i));
        }

        _data.Write("other/not-prefetched.bin", 100);
        var source = new CountingObjectSource(new LocalObjectSource(_data.Root));
        var dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "local://" + _data.Root }, source);
        var cache = NewDiskCache();
        using var manager = NewManager(cache);

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("shard/"));
        await job.Completion;

        await AssertAllWarmAsync(job, dataset, source, cache, expected);
    }

    [Fact]
    public async Task Quota_DiskCache_StopsBeforeEvictingAnything()
    {
        for (var i = 0; i < 12; i++)
        {
            _data.Write($"d/{i:D2}", 3 * BlockSize);
        }

        var source = new CountingObjectSource(new LocalObjectSource(_data.Root));
        var dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "local://" + _data.Root }, source);
        const long quota = 5 * 3 * BlockSize; // five files' data, fewer once the cache's own overhead counts
        var cache = NewDiskCache(quota);
        using var manager = NewManager(cache, workers: 1);

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await job.Completion;

        var progress = job.GetProgress();
        var statistics = cache.GetStatistics();
        Assert.Equal(PrefetchPhase.Failed, progress.Phase);
        Assert.True(progress.QuotaReached);
        Assert.Contains("cache quota", progress.Message, StringComparison.Ordinal);
        Assert.InRange(progress.FilesDone, 1, 5);
        Assert.Equal(0, statistics.Evictions);
        Assert.True(statistics.UsedBytes <= quota, $"{statistics.UsedBytes} > {quota}");
        Assert.Equal(progress.FilesDone * 3, source.Reads);
    }
}

[Collection(MotoCollection.Name)]
public sealed class PrefetchMotoTests(MotoServerFixture moto) : PrefetchRealPartsTestBase
{
    private const string SecretVariable = "PREFETCH_TEST_S3_SECRET";

    [Fact]
    public async Task Prefix_With2000MotoObjects_EveryBlockOnDiskAndReadsNeedNoRemote()
    {
        var bucket = await moto.CreateBucketAsync("prefetch");
        var expected = new Dictionary<string, byte[]>();
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[SizeOf(i)];
            new Random(i).NextBytes(bytes);
            expected[$"data/{i % 7}/file-{i:D4}.bin"] = bytes;
        }

        await Parallel.ForEachAsync(expected, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (entry, _) => await moto.PutAsync(bucket, entry.Key, entry.Value));
        await moto.PutAsync(bucket, "elsewhere/not-prefetched.bin", [1, 2, 3]);

        var config = new DatasetConfig
        {
            Name = "ds",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string> { ["endpoint"] = moto.Endpoint, ["accessKeyId"] = moto.AccessKey },
            SecretOptions = new Dictionary<string, string> { ["secretAccessKey"] = SecretVariable },
        };
        await using var s3 = new SourceFactory(name => name == SecretVariable ? moto.SecretKey : null).Create(config);
        var source = new CountingObjectSource(s3);
        var dataset = new Dataset(config, source);
        var cache = NewDiskCache();
        using var manager = NewManager(cache);

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("data/"));
        await job.Completion;

        await AssertAllWarmAsync(job, dataset, source, cache, expected);
    }
}
