using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// Block files kept open between hits: what a user would check is that the bytes stay right, that the process holds
/// a bounded number of descriptors, and that no descriptor keeps a deleted block file's disk space allocated. The
/// descriptors are read from <c>/proc/self/fd</c>, as <c>ls -l /proc/PID/fd</c> would show them.
/// </summary>
public sealed class OpenBlockFilesTests : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private readonly TempDirectory _dir = new();
    private readonly CountingObjectSource _source = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task RepeatedHits_OneDescriptorPerHotBlock_BytesCorrectAndNoRemoteRead()
    {
        await using var cache = await NewCacheAsync();
        var (obj, bytes) = PutObject("hot.bin", 2 * BlockSize);
        await FillAsync(cache, obj, 2);

        for (var i = 0; i < 20; i++)
        {
            var block = i % 2;
            var destination = new byte[1000];
            Assert.True(cache.TryReadCachedInto(KeyOf(obj, block), BlockSize, 500 + i, destination));
            Assert.Equal(Sha(bytes.AsSpan((block * BlockSize) + 500 + i, 1000)), Sha(destination));
        }

        Assert.Equal(2, OpenDescriptors().Count);
        Assert.Equal(2, cache.GetStatistics().OpenBlockFiles);
        Assert.Equal(2, _source.Reads);
    }

    [Fact]
    public async Task Invalidate_ClosesTheObjectsFiles_NoDescriptorHoldsADeletedFile()
    {
        await using var cache = await NewCacheAsync();
        var (a, _) = PutObject("a.bin", 2 * BlockSize);
        var (b, bBytes) = PutObject("b.bin", BlockSize);
        await FillAsync(cache, a, 2);
        await FillAsync(cache, b, 1);
        HitEvery(cache, a, 2);
        HitEvery(cache, b, 1);
        Assert.Equal(3, OpenDescriptors().Count);

        cache.Invalidate(_source.Identity, "a.bin");

        var open = OpenDescriptors();
        Assert.DoesNotContain(open, target => target.EndsWith("(deleted)", StringComparison.Ordinal));
        Assert.Single(open);
        var destination = new byte[BlockSize];
        Assert.True(cache.TryReadCachedInto(KeyOf(b, 0), BlockSize, 0, destination));
        Assert.Equal(Sha(bBytes), Sha(destination));
    }

    [Fact]
    public async Task Eviction_ClosesEvictedFiles_NoDescriptorHoldsADeletedFile()
    {
        // Room for two blocks: filling four evicts the two that were read and kept open.
        var blockFileBytes = BlockFileStore.FileBytes(new BlockKey(_source.Identity, "e.bin", "x", 0), BlockSize) + 200;
        await using var cache = await NewCacheAsync(quota: 2 * blockFileBytes);
        var (obj, bytes) = PutObject("e.bin", 4 * BlockSize);
        await FillAsync(cache, obj, 2);
        HitEvery(cache, obj, 2);
        Assert.Equal(2, OpenDescriptors().Count);

        for (var i = 2; i < 4; i++)
        {
            using var lease = await Get(cache, obj, i);
        }

        Assert.True(cache.GetStatistics().Evictions >= 2);
        Assert.DoesNotContain(OpenDescriptors(), target => target.EndsWith("(deleted)", StringComparison.Ordinal));
        using var evicted = await Get(cache, obj, 0);
        Assert.Equal(Sha(bytes.AsSpan(0, BlockSize)), Sha(evicted.Memory.Span));
    }

    [Fact]
    public async Task MoreHotBlocksThanTheBudget_AtMostTheBudgetStaysOpen_EveryReadCorrect()
    {
        await using var cache = await NewCacheAsync(openFilesKept: 3);
        var (obj, bytes) = PutObject("many.bin", 10 * BlockSize);
        await FillAsync(cache, obj, 10);

        for (var round = 0; round < 3; round++)
        {
            for (var block = 0; block < 10; block++)
            {
                var destination = new byte[4096];
                Assert.True(cache.TryReadCachedInto(KeyOf(obj, block), BlockSize, 8192, destination));
                Assert.Equal(Sha(bytes.AsSpan((block * BlockSize) + 8192, 4096)), Sha(destination));
                Assert.InRange(OpenDescriptors().Count, 1, 3);
            }
        }

        Assert.Equal(10, _source.Reads);
    }

    [Fact]
    public async Task BudgetOfZero_EveryHitOpensAndClosesItsFile()
    {
        await using var cache = await NewCacheAsync(openFilesKept: 0);
        var (obj, bytes) = PutObject("zero.bin", BlockSize);
        await FillAsync(cache, obj, 1);

        var destination = new byte[BlockSize];
        Assert.True(cache.TryReadCachedInto(KeyOf(obj, 0), BlockSize, 0, destination));

        Assert.Equal(Sha(bytes), Sha(destination));
        Assert.Empty(OpenDescriptors());
    }

    [Fact]
    public async Task FileDamagedInPlaceWhileOpen_NextHitDetectsItAndTheBlockIsFetchedAgain()
    {
        await using var cache = await NewCacheAsync();
        var (obj, bytes) = PutObject("rot.bin", BlockSize);
        await FillAsync(cache, obj, 1);
        HitEvery(cache, obj, 1);
        var file = Assert.Single(OpenDescriptors());

        // Same inode, one payload byte flipped: what a failing disk or a stray writer would do.
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.Seek(-100, SeekOrigin.End);
            var b = stream.ReadByte();
            stream.Seek(-1, SeekOrigin.Current);
            stream.WriteByte((byte)(b ^ 0x40));
        }

        Assert.False(cache.TryReadCachedInto(KeyOf(obj, 0), BlockSize, 0, new byte[BlockSize]));
        Assert.Equal(1, cache.GetStatistics().CorruptBlocksDropped);
        Assert.Empty(OpenDescriptors());
        using var again = await Get(cache, obj, 0);
        Assert.False(again.FromCache);
        Assert.Equal(Sha(bytes), Sha(again.Memory.Span));
    }

    [Fact]
    public async Task FileTruncatedInPlaceWhileOpen_NextHitDetectsItAndTheBlockIsFetchedAgain()
    {
        await using var cache = await NewCacheAsync();
        var (obj, bytes) = PutObject("short.bin", BlockSize);
        await FillAsync(cache, obj, 1);
        HitEvery(cache, obj, 1);
        var file = Assert.Single(OpenDescriptors());

        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.SetLength(stream.Length - 1000);
        }

        Assert.Null(cache.TryReadCached(KeyOf(obj, 0), BlockSize, BlockSize - 10, 10));
        Assert.Equal(1, cache.GetStatistics().CorruptBlocksDropped);
        using var again = await Get(cache, obj, 0);
        Assert.Equal(Sha(bytes), Sha(again.Memory.Span));
        Assert.Equal(2, _source.Reads);
    }

    [Fact]
    public async Task Dispose_ClosesEveryKeptFile()
    {
        var cache = await NewCacheAsync();
        var (obj, _) = PutObject("d.bin", 3 * BlockSize);
        await FillAsync(cache, obj, 3);
        HitEvery(cache, obj, 3);
        Assert.Equal(3, OpenDescriptors().Count);

        await cache.DisposeAsync();

        Assert.Empty(OpenDescriptors());
    }

    [Fact]
    public void KeepAfterCloseAll_ClosesTheFileAtOnce()
    {
        // A read that passed the cache's disposed check before DisposeAsync closed everything may still try to keep
        // the file it opened: nothing may stay open after CloseAll.
        var path = Path.Combine(_dir.Path, "late.blk");
        File.WriteAllBytes(path, new byte[16]);
        var files = new OpenBlockFiles(capacity: 4);
        var entry = new BlockEntry(new BlockKey(_source.Identity, "late.bin", "etag", 0), 16);
        files.CloseAll();

        var file = new OpenBlockFile(File.OpenHandle(path), new VerifiedBlockHeader(new byte[64], 16, 16));
        files.Keep(entry, file);

        Assert.True(file.Handle.IsClosed);
        Assert.Null(entry.UseOpenFile());
        Assert.Empty(OpenDescriptors());
    }

    [Fact]
    public async Task HitsRacingInvalidationsAndRefills_EveryServedByteCorrect_NothingDeletedStaysOpen()
    {
        await using var cache = await NewCacheAsync(openFilesKept: 4);
        var (obj, bytes) = PutObject("race.bin", 8 * BlockSize);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var served = 0L;

        var readers = Enumerable.Range(0, 4).Select(n => Task.Run(async () =>
        {
            var random = new Random(n);
            var destination = new byte[10_000];
            while (!stop.IsCancellationRequested)
            {
                var block = random.Next(8);
                var offset = random.Next(BlockSize - destination.Length);
                if (cache.TryReadCachedInto(KeyOf(obj, block), BlockSize, offset, destination))
                {
                    Assert.Equal(Sha(bytes.AsSpan((block * BlockSize) + offset, destination.Length)), Sha(destination));
                    Interlocked.Increment(ref served);
                }
                else
                {
                    (await Get(cache, obj, block)).Dispose();
                }
            }
        })).ToList();

        while (!stop.IsCancellationRequested)
        {
            cache.Invalidate(_source.Identity, "race.bin");
            await Task.Delay(20);
        }

        await Task.WhenAll(readers);
        cache.Invalidate(_source.Identity, "race.bin");

        Assert.True(Interlocked.Read(ref served) > 0);
        Assert.Equal(0, cache.GetStatistics().CorruptBlocksDropped);
        Assert.Empty(OpenDescriptors());
    }

    private async Task<DiskBlockCache> NewCacheAsync(long quota = 1L << 30, int openFilesKept = BlockFileStore.DefaultOpenFilesKept)
    {
        var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = _dir.Path, QuotaBytes = quota, BlockSize = BlockSize, MinFreeBytes = 0, OpenFilesKept = openFilesKept },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);

        // The start-up scan reads headers of its own: let it finish so only hits hold descriptors.
        await cache.IndexLoadCompletion;
        return cache;
    }

    /// <summary>Targets of this process's descriptors that point into the cache directory.</summary>
    private List<string> OpenDescriptors()
    {
        var open = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(_dir.Path + "/", StringComparison.Ordinal))
                {
                    open.Add(target);
                }
            }
            catch (IOException)
            {
                // A descriptor closed while listing.
            }
        }

        return open;
    }

    private async Task FillAsync(DiskBlockCache cache, RemoteObject obj, int blocks)
    {
        for (var i = 0; i < blocks; i++)
        {
            (await Get(cache, obj, i)).Dispose();
        }
    }

    private void HitEvery(DiskBlockCache cache, RemoteObject obj, int blocks)
    {
        for (var i = 0; i < blocks; i++)
        {
            Assert.True(cache.TryReadCachedInto(KeyOf(obj, i), BlockSize, 0, new byte[16]));
        }
    }

    private (RemoteObject Obj, byte[] Bytes) PutObject(string key, int size)
    {
        var bytes = new byte[size];
        new Random(size ^ key.Length).NextBytes(bytes);
        return (_source.Put(key, bytes), bytes);
    }

    private BlockKey KeyOf(RemoteObject obj, long index) => new(_source.Identity, obj.Key, obj.ETag, index);

    private ValueTask<BlockLease> Get(DiskBlockCache cache, RemoteObject obj, long index) =>
        cache.GetAsync(
            KeyOf(obj, index),
            (int)Math.Min(BlockSize, obj.Size - (index * BlockSize)),
            (destination, ct) => _source.ReadAsync(obj, index * BlockSize, destination, ct),
            BlockPriority.OnDemand,
            CancellationToken.None);

    private static string Sha(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
