using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class DiskBlockCacheTests : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private readonly TempDirectory _dir = new();
    private readonly CountingObjectSource _source = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task GetAsync_MissThenHit_SecondReadComesFromDiskWithSameBytes()
    {
        await using var cache = NewCache();
        var (obj, bytes) = PutObject("a.bin", 3 * BlockSize + 100);

        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 4; i++)
            {
                using var lease = await Get(cache, obj, i);
                Assert.Equal(round == 1, lease.FromCache);
                Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockLength(obj, i))), Sha(lease.Memory.Span));
            }
        }

        Assert.Equal(4, _source.Reads);
        var stats = cache.GetStatistics();
        Assert.Equal((4, 4, 4L), (stats.Hits, stats.Misses, stats.Blocks));
        Assert.Equal(4, stats.RemoteFetches);
    }

    [Fact]
    public async Task GetAsync_32ConcurrentReadersOfMissingBlocks_OneRemoteFetchPerBlock()
    {
        await using var cache = NewCache();
        var (obj, bytes) = PutObject("hot.bin", 2 * BlockSize);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.ReadGate = gate;

        var readers = Enumerable.Range(0, 32).Select(n => Task.Run(async () =>
        {
            using var lease = await Get(cache, obj, n % 2);
            return Sha(lease.Memory.Span) == Sha(bytes.AsSpan((n % 2) * BlockSize, BlockSize));
        })).ToList();

        await WaitUntil(() => cache.GetStatistics().Misses == 32);
        gate.SetResult();

        Assert.All(await Task.WhenAll(readers), Assert.True);
        Assert.Equal(2, _source.Reads);
        Assert.Equal(30, cache.GetStatistics().SingleFlightJoins);
    }

    [Fact]
    public async Task GetAsync_FirstWaiterCancelled_OtherWaitersStillGetTheBlock()
    {
        await using var cache = NewCache();
        var (obj, bytes) = PutObject("c.bin", BlockSize);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.ReadGate = gate;

        using var firstCancel = new CancellationTokenSource();
        var first = Get(cache, obj, 0, cancellationToken: firstCancel.Token).AsTask();
        var second = Get(cache, obj, 0).AsTask();
        await WaitUntil(() => cache.GetStatistics().Misses == 2);

        await firstCancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        gate.SetResult();

        using var lease = await second;
        Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        Assert.Equal(1, _source.Reads);
    }

    [Fact]
    public async Task GetAsync_FetchFails_ErrorReachesReadersAndNextReadFetchesAgain()
    {
        await using var cache = NewCache();
        var (obj, bytes) = PutObject("gone.bin", BlockSize);
        var gone = obj with { ETag = "\"stale\"" };

        await Assert.ThrowsAsync<RemoteObjectChangedException>(async () => (await Get(cache, gone, 0)).Dispose());
        using var lease = await Get(cache, obj, 0);
        Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        Assert.Equal(2, _source.Reads);
    }

    [Fact]
    public async Task Store_OverQuota_EvictsLeastRecentlyUsedFirst()
    {
        // Room for three blocks (each file is the payload plus a small header).
        await using var cache = NewCache(quota: (3 * BlockSize) + 1024);
        var (obj, _) = PutObject("lru.bin", 4 * BlockSize);

        (await Get(cache, obj, 0)).Dispose();
        (await Get(cache, obj, 1)).Dispose();
        (await Get(cache, obj, 2)).Dispose();
        (await Get(cache, obj, 0)).Dispose(); // block 0 is now the most recently used: block 1 is the LRU
        (await Get(cache, obj, 3)).Dispose();

        Assert.True(cache.Contains(KeyOf(obj, 0)));
        Assert.False(cache.Contains(KeyOf(obj, 1)));
        Assert.True(cache.Contains(KeyOf(obj, 2)));
        Assert.True(cache.Contains(KeyOf(obj, 3)));
        var stats = cache.GetStatistics();
        Assert.Equal(1, stats.Evictions);
        Assert.True(stats.UsedBytes <= stats.QuotaBytes);
        Assert.Equal(3, Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task Store_OnlyPinnedBlocksCouldMakeRoom_LeasedBlockKeptAndNewBlockPassesThrough()
    {
        await using var cache = NewCache(quota: BlockSize + 1024);
        var (obj, bytes) = PutObject("pin.bin", 2 * BlockSize);
        (await Get(cache, obj, 0)).Dispose();

        using (var held = await Get(cache, obj, 0))
        {
            Assert.True(held.FromCache);
            using var other = await Get(cache, obj, 1);
            Assert.Equal(Sha(bytes.AsSpan(BlockSize)), Sha(other.Memory.Span));
            Assert.True(cache.Contains(KeyOf(obj, 0)));
            Assert.False(cache.Contains(KeyOf(obj, 1)));
            Assert.Equal(1, cache.GetStatistics().PassThroughFills);
        }

        (await Get(cache, obj, 1)).Dispose();
        Assert.True(cache.Contains(KeyOf(obj, 1)));
        Assert.False(cache.Contains(KeyOf(obj, 0)));
    }

    [Fact]
    public async Task NewInstance_OnSameDirectory_ServesCachedBlocksWithoutRemoteFetches()
    {
        var (obj, bytes) = PutObject("warm.bin", 5 * BlockSize);
        await using (var first = NewCache())
        {
            for (var i = 0; i < 5; i++)
            {
                (await Get(first, obj, i)).Dispose();
            }
        }

        var readsBefore = _source.Reads;
        await using var second = NewCache();
        await second.IndexLoadCompletion;
        Assert.Equal(5, second.GetStatistics().Blocks);
        for (var i = 0; i < 5; i++)
        {
            using var lease = await Get(second, obj, i);
            Assert.True(lease.FromCache);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockSize)), Sha(lease.Memory.Span));
        }

        Assert.Equal(readsBefore, _source.Reads);
    }

    [Fact]
    public async Task IndexLoad_Finished_ReportsTheScansGarbageToTheHostInsteadOfCollectingItself()
    {
        var (obj, _) = PutObject("scanned.bin", 2 * BlockSize);
        await using (var first = NewCache())
        {
            (await Get(first, obj, 0)).Dispose();
            (await Get(first, obj, 1)).Dispose();
        }

        await using var cache = NewCache(deferIndexLoad: true);
        var reports = 0;
        cache.ReportScanGarbage = () => Interlocked.Increment(ref reports);
        Assert.Equal(0, reports);

        cache.StartIndexLoad();
        await cache.IndexLoadCompletion;

        Assert.Equal(1, reports);
        Assert.Equal(2, cache.GetStatistics().Blocks);
    }

    [Fact]
    public void NewCache_ReportsScanGarbageToTheProcessWideSignalByDefault()
    {
        using var cache = NewCache(deferIndexLoad: true);
        var before = ReclaimableMemory.Reports;

        cache.ReportScanGarbage();

        Assert.True(ReclaimableMemory.Reports > before);
    }

    [Fact]
    public async Task GetAsync_BeforeIndexLoaded_ServesCachedBytesAndIndexCatchesUpLater()
    {
        var (obj, bytes) = PutObject("early.bin", 40 * BlockSize);
        await using (var first = NewCache())
        {
            for (var i = 0; i < 40; i++)
            {
                (await Get(first, obj, i)).Dispose();
            }
        }

        var readsBefore = _source.Reads;
        await using var second = NewCache(deferIndexLoad: true);
        Assert.False(second.GetStatistics().IndexLoaded);
        Assert.True(second.Contains(KeyOf(obj, 7)));
        using (var lease = await Get(second, obj, 7))
        {
            Assert.True(lease.FromCache);
            Assert.Equal(Sha(bytes.AsSpan(7 * BlockSize, BlockSize)), Sha(lease.Memory.Span));
        }

        Assert.False(second.GetStatistics().IndexLoaded);
        second.StartIndexLoad();
        await second.IndexLoadCompletion;
        var stats = second.GetStatistics();
        Assert.True(stats.IndexLoaded);
        Assert.Equal(40, stats.Blocks);
        Assert.Equal(readsBefore, _source.Reads);
    }

    [Fact]
    public async Task GetAsync_BlockFileWithFlippedByte_DroppedCountedAndFetchedAgain()
    {
        var (obj, bytes) = PutObject("rot.bin", BlockSize);
        await using (var first = NewCache())
        {
            (await Get(first, obj, 0)).Dispose();
        }

        var file = Assert.Single(Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories));
        var content = await File.ReadAllBytesAsync(file);
        content[^100] ^= 0x40; // a payload byte: the header stays intact, only the CRC can tell
        await File.WriteAllBytesAsync(file, content);

        await using var cache = NewCache();
        await cache.IndexLoadCompletion;
        using (var lease = await Get(cache, obj, 0))
        {
            Assert.False(lease.FromCache);
            Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        }

        Assert.Equal(1, cache.GetStatistics().CorruptBlocksDropped);
        Assert.Equal(2, _source.Reads);
        using var again = await Get(cache, obj, 0);
        Assert.True(again.FromCache);
        Assert.Equal(Sha(bytes), Sha(again.Memory.Span));
    }

    [Fact]
    public async Task TryReadCached_SubRange_ChecksOnlyItsChunksAndDropsTheBlockWhenOneIsBad()
    {
        // 4 blocks of 64 KiB are one chunk each at the default chunk size; use a bigger block for chunking.
        const int bigBlock = 4 * 64 * 1024;
        await using var cache = NewCache(blockSize: bigBlock);
        await cache.IndexLoadCompletion; // the file is rewritten in place below: keep the start-up scan out of it
        var (obj, bytes) = PutObject("chunks.bin", bigBlock);
        var key = KeyOf(obj, 0);
        Assert.Null(cache.TryReadCached(key, bigBlock, 10, 100));
        (await cache.GetAsync(key, bigBlock, (m, ct) => _source.ReadAsync(obj, 0, m, ct), BlockPriority.OnDemand, default)).Dispose();

        var file = Assert.Single(Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories));
        var content = await File.ReadAllBytesAsync(file);
        content[^10] ^= 0x01; // last chunk damaged
        await File.WriteAllBytesAsync(file, content);

        // Ranges inside the intact chunks (also one crossing a chunk boundary) are served and correct.
        foreach (var (offset, count) in new[] { (0, 1), (1000, 70_000), (65_535, 2), (3 * 65_536 - 5, 5) })
        {
            using var lease = cache.TryReadCached(key, bigBlock, offset, count);
            Assert.NotNull(lease);
            Assert.Equal(Sha(bytes.AsSpan(offset, count)), Sha(lease.Memory.Span));
        }

        // A range touching the damaged chunk is refused, the file dropped, and the next read refetches.
        Assert.Null(cache.TryReadCached(key, bigBlock, bigBlock - 20, 20));
        Assert.Equal(1, cache.GetStatistics().CorruptBlocksDropped);
        Assert.False(cache.Contains(key));
        using var again = await cache.GetAsync(key, bigBlock, (m, ct) => _source.ReadAsync(obj, 0, m, ct), BlockPriority.OnDemand, default);
        Assert.Equal(Sha(bytes), Sha(again.Memory.Span));
        Assert.Equal(2, _source.Reads);
    }

    [Fact]
    public async Task Restart_AfterCrashLeftTempAndTruncatedFiles_ServesOnlyCorrectBytes()
    {
        var (obj, bytes) = PutObject("crash.bin", 3 * BlockSize);
        await using (var first = NewCache())
        {
            for (var i = 0; i < 3; i++)
            {
                (await Get(first, obj, i)).Dispose();
            }
        }

        // What kill -9 can leave: temp files of a fill in progress. What a power cut without fsync can
        // leave: a renamed file whose data never reached the disk (truncated, or zeros).
        var files = Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var torn = files[0] + ".0123456789ab-1.tmp";
        await File.WriteAllBytesAsync(torn, new byte[100]);
        await using (var truncated = new FileStream(files[1], FileMode.Open))
        {
            truncated.SetLength(truncated.Length / 2);
        }

        await File.WriteAllBytesAsync(files[2], new byte[new FileInfo(files[2]).Length]);

        await using var cache = NewCache();
        await cache.IndexLoadCompletion;
        Assert.False(File.Exists(torn));
        Assert.Equal(1, cache.GetStatistics().Blocks);
        for (var i = 0; i < 3; i++)
        {
            using var lease = await Get(cache, obj, i);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockSize)), Sha(lease.Memory.Span));
        }

        Assert.Equal(3 + 2, _source.Reads);
    }

    [Fact]
    public async Task Store_QuotaSmallerThanABlock_PassesThroughWithCorrectBytes()
    {
        await using var cache = NewCache(quota: BlockSize / 2);
        var (obj, bytes) = PutObject("big.bin", BlockSize);

        for (var round = 0; round < 2; round++)
        {
            using var lease = await Get(cache, obj, 0);
            Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        }

        var stats = cache.GetStatistics();
        Assert.Equal((2L, 0L, 0L), (stats.PassThroughFills, stats.Blocks, stats.UsedBytes));
        Assert.Equal(2, _source.Reads);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Store_FreeSpaceFloorCannotBeKept_PassesThroughWithCorrectBytes()
    {
        await using var cache = NewCache(minFree: long.MaxValue / 4);
        var (obj, bytes) = PutObject("floor.bin", BlockSize);

        using var lease = await Get(cache, obj, 0);

        Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        Assert.Equal(1, cache.GetStatistics().PassThroughFills);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Store_WriteFailsWithIOException_PassesThroughAndReservationIsReturned()
    {
        await using var cache = NewCache();
        await cache.IndexLoadCompletion;
        var (obj, bytes) = PutObject("eio.bin", BlockSize);

        // The block's shard directory cannot be created (a file has its name): the write fails like ENOSPC/EIO would.
        var shard = Path.Combine(_dir.Path, "blocks", BlockFileFormat.FileStem(KeyOf(obj, 0))[..2]);
        await File.WriteAllTextAsync(shard, "not a directory");
        using var lease = await Get(cache, obj, 0);

        Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        var stats = cache.GetStatistics();
        Assert.Equal((1L, 0L, 0L), (stats.PassThroughFills, stats.Blocks, stats.UsedBytes));
        Assert.False(cache.Contains(KeyOf(obj, 0)));
    }

    [Fact]
    public async Task Constructor_DirectoryUnusable_EveryReadPassesThrough()
    {
        var notADirectory = Path.Combine(_dir.Path, "file");
        await File.WriteAllTextAsync(notADirectory, "x");
        await using var cache = NewCache(directory: notADirectory);
        var (obj, bytes) = PutObject("d.bin", BlockSize);

        using var lease = await Get(cache, obj, 0);

        Assert.Equal(Sha(bytes), Sha(lease.Memory.Span));
        Assert.True(cache.GetStatistics().IndexLoaded);
        Assert.Equal(1, cache.GetStatistics().PassThroughFills);
    }

    [Fact]
    public async Task Invalidate_RemovesEveryBlockOfThatObjectOnly()
    {
        // The start-up scan runs alongside (on a fresh directory it sees the files the reads below write): whatever
        // the interleaving, Invalidate leaves nothing of the object indexed or on disk.
        await using var cache = NewCache();
        var (a, _) = PutObject("a", 2 * BlockSize);
        var (b, _) = PutObject("b", BlockSize);
        (await Get(cache, a, 0)).Dispose();
        (await Get(cache, a, 1)).Dispose();
        (await Get(cache, b, 0)).Dispose();

        cache.Invalidate(_source.Identity, "a");

        Assert.False(cache.Contains(KeyOf(a, 0)));
        Assert.False(cache.Contains(KeyOf(a, 1)));
        Assert.True(cache.Contains(KeyOf(b, 0)));
        Assert.Single(Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Invalidate_WhileScanHoldsListedFiles_OldBlocksNeitherIndexedNorServed()
    {
        // A warm cache from a previous run holds two blocks of version 1 of "a" and one of "b".
        var (oldA, _) = PutObject("a", 2 * BlockSize);
        var (b, bBytes) = PutObject("b", BlockSize);
        await using (var first = NewCache())
        {
            (await Get(first, oldA, 0)).Dispose();
            (await Get(first, oldA, 1)).Dispose();
            (await Get(first, b, 0)).Dispose();
        }

        // "a" changes (new ETag). The new process's scan has listed the old files and is held there; the
        // invalidation lands before it indexes them (the interleaving that used to leave old blocks indexed).
        var newBytes = new byte[2 * BlockSize];
        new Random(7).NextBytes(newBytes);
        var newA = _source.Put("a", newBytes);
        Assert.NotEqual(oldA.ETag, newA.ETag);
        await using var cache = NewCache(deferIndexLoad: true);
        await using var scan = new ScanHold(cache); // disposed first: a failed assert releases the scan, never hangs
        await scan.Listed;

        cache.Invalidate(_source.Identity, "a");

        // Before the scan resumes: the old files are still on disk, yet nothing serves them.
        Assert.Equal(3, Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories).Length);
        await AssertOldVersionGoneAsync(cache, oldA);

        scan.Release();
        await cache.IndexLoadCompletion;

        // After it: not indexed, deleted by the scan, still not served; the other object is untouched.
        var stats = cache.GetStatistics();
        Assert.True(stats.IndexLoaded);
        Assert.Equal(1, stats.Blocks);
        Assert.Single(Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories));
        await AssertOldVersionGoneAsync(cache, oldA);
        using (var lease = await Get(cache, b, 0))
        {
            Assert.True(lease.FromCache);
            Assert.Equal(Sha(bBytes), Sha(lease.Memory.Span));
        }

        // The new version is fetched from the remote, then served from the cache.
        var readsBefore = _source.Reads;
        using (var fresh = await Get(cache, newA, 1))
        {
            Assert.False(fresh.FromCache);
            Assert.Equal(Sha(newBytes.AsSpan(BlockSize)), Sha(fresh.Memory.Span));
        }

        Assert.Equal(readsBefore + 1, _source.Reads);
        using var again = await Get(cache, newA, 1);
        Assert.True(again.FromCache);
    }

    [Fact]
    public async Task Invalidate_DuringScan_ReadBeforeLoadOfOldVersionIsRefusedAndNewFillIsKept()
    {
        var (oldA, oldBytes) = PutObject("a", BlockSize);
        await using (var first = NewCache())
        {
            (await Get(first, oldA, 0)).Dispose();
        }

        await using var cache = NewCache(deferIndexLoad: true);
        await using var scan = new ScanHold(cache); // disposed first: a failed assert releases the scan, never hangs
        await scan.Listed;

        // Before the invalidation an early read is served from disk (and indexed): the scan has not finished.
        using (var early = await Get(cache, oldA, 0))
        {
            Assert.True(early.FromCache);
            Assert.Equal(Sha(oldBytes), Sha(early.Memory.Span));
        }

        // The object changes while the scan is held; the new version is read and cached before the scan resumes.
        cache.Invalidate(_source.Identity, "a");
        await AssertOldVersionGoneAsync(cache, oldA);
        var newBytes = new byte[BlockSize];
        new Random(11).NextBytes(newBytes);
        var newA = _source.Put("a", newBytes);
        (await Get(cache, newA, 0)).Dispose();

        scan.Release();
        await cache.IndexLoadCompletion;

        // The old file (deleted by the invalidation, still in the scan's listing) is not indexed again, and the new
        // block written after the invalidation is kept: a tombstone must not drop the current version.
        await AssertOldVersionGoneAsync(cache, oldA);
        Assert.Equal(1, cache.GetStatistics().Blocks);
        Assert.Single(Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories));
        var readsBefore = _source.Reads;
        using var lease = await Get(cache, newA, 0);
        Assert.True(lease.FromCache);
        Assert.Equal(Sha(newBytes), Sha(lease.Memory.Span));
        Assert.Equal(readsBefore, _source.Reads);
    }

    /// <summary>Starts the scan of a deferred cache and holds it after it has listed the files, until released.</summary>
    private sealed class ScanHold : IAsyncDisposable
    {
        private readonly TaskCompletionSource _listed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ScanHold(DiskBlockCache cache)
        {
            cache.ScanListedHook = async () =>
            {
                _listed.TrySetResult();
                await _release.Task;
            };
            cache.StartIndexLoad();
        }

        public Task Listed => _listed.Task;

        public void Release() => _release.TrySetResult();

        public ValueTask DisposeAsync()
        {
            Release();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// The old version of <paramref name="oldObj"/> is not in the cache: not reported, not readable, and a read of
    /// it goes to the remote (here a fetch that fails, so a block served from disk would show as a success).
    /// </summary>
    private async Task AssertOldVersionGoneAsync(DiskBlockCache cache, RemoteObject oldObj)
    {
        for (var i = 0; i * BlockSize < oldObj.Size; i++)
        {
            var key = KeyOf(oldObj, i);
            var length = BlockLength(oldObj, i);
            Assert.False(cache.Contains(key));
            Assert.Null(cache.TryReadCached(key, length, 0, length));
            var read = cache.GetAsync(key, length, static (_, _) => throw new InvalidDataException("version gone"), BlockPriority.OnDemand, default);
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => read.AsTask());
            Assert.Equal("version gone", error.Message);
        }
    }

    [Fact]
    public async Task GetAsync_PrefetchSlotsBusy_OnDemandMissIsNotQueuedBehindThem()
    {
        await using var cache = NewCache(prefetchSlots: 1);
        var (obj, bytes) = PutObject("prio.bin", 3 * BlockSize);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Block 0 takes the only prefetch slot and holds it; block 1 queues behind it at prefetch priority.
        var blocked = cache.GetAsync(KeyOf(obj, 0), BlockSize, async (m, ct) =>
        {
            await gate.Task.WaitAsync(ct);
            await _source.ReadAsync(obj, 0, m, ct);
        }, BlockPriority.Prefetch, CancellationToken.None).AsTask();
        var queued = Get(cache, obj, 1, BlockPriority.Prefetch).AsTask();
        await WaitUntil(() => cache.GetStatistics().Misses == 2);

        // An on-demand read of another block, and one that joins the queued prefetch flight, both finish.
        using (var onDemand = await Get(cache, obj, 2))
        {
            Assert.Equal(Sha(bytes.AsSpan(2 * BlockSize)), Sha(onDemand.Memory.Span));
        }

        using (var joined = await Get(cache, obj, 1))
        {
            Assert.Equal(Sha(bytes.AsSpan(BlockSize, BlockSize)), Sha(joined.Memory.Span));
        }

        Assert.False(blocked.IsCompleted);
        gate.SetResult();
        (await blocked).Dispose();
        (await queued).Dispose();
    }

    [Fact]
    public async Task FetchRun_FirstBlockArrives_ItsReaderIsReleasedWhileTheRestStreamsAndJoinersShareTheRun()
    {
        await using var cache = NewCache();
        _source.StreamsRanges = true;
        var (obj, bytes) = PutObject("span.bin", 8 * BlockSize);
        var pause = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.StreamPauseAfterBytes = BlockSize;
        _source.StreamPauseGate = pause.Task;

        var stored = FetchRun(cache, obj, 0, 8);

        // The body stops after block 0: its reader gets it, the rest of the run is still on its way.
        using (var first = await Get(cache, obj, 0))
        {
            Assert.Equal(Sha(bytes.AsSpan(0, BlockSize)), Sha(first.Memory.Span));
        }

        await stored[0];
        Assert.False(stored[1].IsCompleted); // the body is held after block 0

        // Readers of blocks inside the span join it instead of fetching them again.
        var joinsBefore = cache.GetStatistics().SingleFlightJoins; // the reader of block 0 may have joined too
        var joiners = Enumerable.Range(1, 7).Select(i => Get(cache, obj, i).AsTask()).ToList();
        await WaitUntil(() => cache.GetStatistics().SingleFlightJoins == joinsBefore + 7);
        pause.SetResult();
        for (var i = 1; i < 8; i++)
        {
            using var lease = await joiners[i - 1];
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockSize)), Sha(lease.Memory.Span));
        }

        await Task.WhenAll(stored);
        Assert.Equal(1, _source.Reads);
        var stats = cache.GetStatistics();
        Assert.Equal((1L, 8L, 8L), (stats.RemoteRequests, stats.RemoteFetches, stats.Blocks));
    }

    [Fact]
    public async Task FetchRun_StreamResetMidway_CompleteBlocksKeptAndOnlyTheRestRefetched()
    {
        await using var cache = NewCache();
        _source.StreamsRanges = true;
        var (obj, bytes) = PutObject("reset.bin", (6 * BlockSize) + 1000);
        _source.BreakStreamAfterBytes = (2 * BlockSize) + 500;

        var stored = FetchRun(cache, obj, 0, 7);
        await Assert.ThrowsAsync<IOException>(() => Task.WhenAll(stored));
        Assert.True(stored[0].IsCompletedSuccessfully && stored[1].IsCompletedSuccessfully);
        Assert.All(stored.Skip(2), t => Assert.True(t.IsFaulted));
        Assert.True(cache.Contains(KeyOf(obj, 1)));
        Assert.False(cache.Contains(KeyOf(obj, 2)));

        // Again: one request, starting at the first block that was not complete.
        await Task.WhenAll(FetchRun(cache, obj, 0, 7));
        Assert.Equal(new[] { 0L, 2L * BlockSize }, _source.ReadOffsets.Order().ToArray());
        for (var i = 0; i < 7; i++)
        {
            using var lease = await Get(cache, obj, i);
            Assert.True(lease.FromCache);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockLength(obj, i))), Sha(lease.Memory.Span));
        }

        Assert.Equal(2, _source.Reads);
        Assert.Equal(7, cache.GetStatistics().RemoteFetches);
    }

    [Fact]
    public async Task FetchRun_SomeBlocksCached_OneRequestPerRunOfMissingBlocks()
    {
        await using var cache = NewCache();
        _source.StreamsRanges = true;
        var (obj, bytes) = PutObject("holes.bin", 8 * BlockSize);
        (await Get(cache, obj, 2)).Dispose();
        (await Get(cache, obj, 5)).Dispose();
        var before = _source.Reads;

        await Task.WhenAll(FetchRun(cache, obj, 0, 8));

        Assert.Equal(3, _source.Reads - before); // 0-1, 3-4, 6-7
        Assert.Equal(5, cache.GetStatistics().RemoteRequests); // 2 single blocks + 3 runs
        for (var i = 0; i < 8; i++)
        {
            using var lease = await Get(cache, obj, i);
            Assert.True(lease.FromCache);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockSize)), Sha(lease.Memory.Span));
        }
    }

    private IReadOnlyList<Task> FetchRun(DiskBlockCache cache, RemoteObject obj, long first, int count) =>
        cache.FetchRun(KeyOf(obj, first), count, BlockLength(obj, first + count - 1), (sink, ct) => _source.ReadIntoAsync(obj, sink, ct), BlockPriority.ReadAhead);

    private DiskBlockCache NewCache(
        long quota = 1L << 30,
        int blockSize = BlockSize,
        long minFree = 0,
        bool deferIndexLoad = false,
        int prefetchSlots = 8,
        string? directory = null) =>
        new(
            new DiskBlockCacheOptions
            {
                Directory = directory ?? _dir.Path,
                QuotaBytes = quota,
                BlockSize = blockSize,
                MinFreeBytes = minFree,
                DeferIndexLoad = deferIndexLoad,
                PrefetchFetchConcurrency = prefetchSlots,
            },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);

    private (RemoteObject Obj, byte[] Bytes) PutObject(string key, int size)
    {
        var bytes = new byte[size];
        new Random(size ^ key.Length).NextBytes(bytes);
        return (_source.Put(key, bytes), bytes);
    }

    private BlockKey KeyOf(RemoteObject obj, long index) => new(_source.Identity, obj.Key, obj.ETag, index);

    private static int BlockLength(RemoteObject obj, long index) => (int)Math.Min(BlockSize, obj.Size - (index * BlockSize));

    private ValueTask<BlockLease> Get(
        DiskBlockCache cache,
        RemoteObject obj,
        long index,
        BlockPriority priority = BlockPriority.OnDemand,
        CancellationToken cancellationToken = default) =>
        cache.GetAsync(
            KeyOf(obj, index),
            BlockLength(obj, index),
            (destination, ct) => _source.ReadAsync(obj, index * BlockSize, destination, ct),
            priority,
            cancellationToken);

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
