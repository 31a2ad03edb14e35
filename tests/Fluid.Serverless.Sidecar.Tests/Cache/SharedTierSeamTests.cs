using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// The fetch seam's use of the shared tier: local cache → tier → remote, write-around, the fill lease. The tier here is
/// <see cref="InMemoryTier"/>, a small in-process fake that scripts lease outcomes; the real engines (Redis Cluster,
/// Garnet, S3) behind the guard are exercised by the integration project's SharedCache tests.
/// </summary>
public sealed class SharedTierSeamTests : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private readonly TempDirectory _dirA = new();
    private readonly TempDirectory _dirB = new();
    private readonly CountingObjectSource _source = new() { StreamsRanges = true };
    private readonly InMemoryTier _tier = new();

    public void Dispose()
    {
        _dirA.Dispose();
        _dirB.Dispose();
    }

    [Fact]
    public async Task GetAsync_SecondCacheSameTier_BlocksComeFromTheTierNotTheRemote()
    {
        var (obj, bytes) = PutObject("a.bin", (3 * BlockSize) + 100);
        await using (var first = NewCache(_dirA))
        {
            await AssertBlocks(first, obj, bytes);
        }

        Assert.Equal(4, _source.Reads);
        Assert.Equal(4, _tier.Puts);

        await using var second = NewCache(_dirB);
        await AssertBlocks(second, obj, bytes);
        Assert.Equal(4, _source.Reads);
        Assert.Equal(4, second.GetStatistics().SharedTierHits);
        Assert.Equal(0, second.GetStatistics().RemoteFetches);
    }

    [Fact]
    public async Task FetchRun_TierHoldsSomeBlocks_OnlyTheOthersAreRequestedAsSubRuns()
    {
        var (obj, bytes) = PutObject("holes.bin", 8 * BlockSize);
        foreach (var i in new[] { 0, 1, 4 })
        {
            _tier.Seed(IdOf(obj, i), bytes.AsSpan(i * BlockSize, BlockSize));
        }

        await using var cache = NewCache(_dirA);
        await Task.WhenAll(FetchRun(cache, obj, 0, 8));

        Assert.Equal(new[] { 2L * BlockSize, 5L * BlockSize }, _source.ReadOffsets.Order().ToArray()); // 2-3 and 5-7
        Assert.Equal(5, _tier.Puts); // what came from the remote is written around
        await AssertBlocks(cache, obj, bytes, fromCache: true);
        Assert.Equal(3, cache.GetStatistics().SharedTierHits);
    }

    [Fact]
    public async Task FetchRun_LeaseHeldElsewhere_WaitsForTheOtherPodsFillInsteadOfTheRemote()
    {
        var (obj, bytes) = PutObject("lease.bin", 4 * BlockSize);
        _tier.Lease = FillLease.HeldElsewhere;
        _tier.FillDuringWait = id => bytes.AsSpan((int)id.BlockIndex * BlockSize, BlockSize).ToArray(); // the other pod's Put

        await using var cache = NewCache(_dirA);
        await Task.WhenAll(FetchRun(cache, obj, 0, 4));

        Assert.Equal(0, _source.Reads);
        Assert.Equal(4, _tier.Waits);
        await AssertBlocks(cache, obj, bytes, fromCache: true);
    }

    [Fact]
    public async Task GetAsync_LeaseHeldElsewhereButNoFillArrives_FetchesFromTheRemote()
    {
        var (obj, bytes) = PutObject("late.bin", 2 * BlockSize);
        _tier.Lease = FillLease.HeldElsewhere;

        await using var cache = NewCache(_dirA);
        await AssertBlocks(cache, obj, bytes);

        Assert.Equal(2, _tier.Waits);
        Assert.Equal(2, _source.Reads);
        Assert.Equal(2, _tier.Puts);
    }

    [Fact]
    public async Task FetchRun_LeaseHeldElsewhereAndTheFillNeverComes_OneWaitThenTheRestOfTheSpanFromTheRemote()
    {
        var (obj, bytes) = PutObject("dropped.bin", 4 * BlockSize);
        _tier.Lease = FillLease.HeldElsewhere; // and no fill arrives: the holder's write was dropped

        await using var cache = NewCache(_dirA);
        await Task.WhenAll(FetchRun(cache, obj, 0, 4));

        Assert.Equal(1, _tier.Waits);
        Assert.Equal(new[] { 0L }, _source.ReadOffsets.ToArray()); // the four blocks in one request
        await AssertBlocks(cache, obj, bytes, fromCache: true);
    }

    [Fact]
    public async Task GetAsync_RemoteFetchFailsUnderOurLease_TheLeaseIsGivenBackForAWaiter()
    {
        var (obj, _) = PutObject("broken.bin", BlockSize);
        _source.FailingKeys.Add(obj.Key);

        await using var cache = NewCache(_dirA);
        await Assert.ThrowsAnyAsync<Exception>(async () => await cache.GetAsync(
            KeyOf(obj, 0),
            BlockSize,
            (destination, ct) => _source.ReadAsync(obj, 0, destination, ct),
            BlockPriority.OnDemand,
            CancellationToken.None));

        Assert.Equal([IdOf(obj, 0)], _tier.Abandoned);
        Assert.Equal(0, _tier.Puts);
    }

    [Fact]
    public async Task FetchRun_RemoteFailsMidRun_EveryUndeliveredBlocksLeaseIsGivenBack()
    {
        var (obj, _) = PutObject("broken-run.bin", 3 * BlockSize);
        _source.FailingKeys.Add(obj.Key);

        await using var cache = NewCache(_dirA);
        foreach (var block in FetchRun(cache, obj, 0, 3))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => block);
        }

        Assert.Equal([0L, 1L, 2L], _tier.Abandoned.Select(id => id.BlockIndex).Order().ToArray());
    }

    [Fact]
    public async Task GetAsync_ObjectChangedAtTheRemote_NewETagMissesTheTierAndServesTheNewBytes()
    {
        var (oldObj, oldBytes) = PutObject("v.bin", BlockSize);
        await using (var first = NewCache(_dirA))
        {
            await AssertBlocks(first, oldObj, oldBytes);
        }

        var newBytes = oldBytes.Select(b => (byte)~b).ToArray();
        var newObj = _source.Put("v.bin", newBytes, "\"v2\"");
        await using var second = NewCache(_dirB);
        await AssertBlocks(second, newObj, newBytes);
        Assert.Equal(2, _source.Reads);
        Assert.Equal(0, second.GetStatistics().SharedTierHits);
    }

    [Fact]
    public async Task FetchRunInOrder_TierHasEveryBlock_HandedOverInMemoryAndStoredOnlyAtTheSecondRead()
    {
        var (obj, bytes) = PutObject("handed.bin", (3 * BlockSize) + 100);
        SeedTier(obj, bytes);
        await using var cache = NewCache(_dirA);

        foreach (var (task, i) in FetchRunInOrder(cache, obj, 0, 4).Select((t, i) => (t, i)))
        {
            using var lease = await task;
            Assert.NotNull(lease);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockLength(obj, i))), Sha(lease.Memory.Span));
            Assert.False(cache.Contains(KeyOf(obj, i)), $"block {i} was handed over, yet written to the local disk");
        }

        Assert.Equal(4, cache.GetStatistics().SharedTierHandedOver);
        Assert.Equal(0, cache.GetStatistics().Blocks);

        // The pod reads the object again: this time its blocks are kept.
        foreach (var task in FetchRunInOrder(cache, obj, 0, 4))
        {
            Assert.Null(await task);
        }

        Assert.Equal(4, cache.GetStatistics().Blocks);
        Assert.Equal(8, cache.GetStatistics().SharedTierHits);
        Assert.Equal(4, cache.GetStatistics().SharedTierHandedOver);
        Assert.Equal(0, _source.Reads);
        await AssertBlocks(cache, obj, bytes, fromCache: true);
    }

    [Fact]
    public async Task FetchRunInOrder_ReaderHoldsAHandedBlock_AfterThePatienceTheRestOfTheRunIsStored()
    {
        var (obj, bytes) = PutObject("held.bin", 4 * BlockSize);
        SeedTier(obj, bytes);
        await using var cache = NewCache(_dirA, handOffPatience: TimeSpan.FromMilliseconds(50));

        var blocks = FetchRunInOrder(cache, obj, 0, 4);
        using var held = await blocks[0];
        Assert.NotNull(held);
        for (var i = 1; i < 4; i++)
        {
            Assert.Null(await blocks[i]); // stored, not handed over: the reader was not keeping up
            Assert.True(cache.Contains(KeyOf(obj, i)));
        }

        // The held buffer was not given to anyone else meanwhile.
        Assert.Equal(Sha(bytes.AsSpan(0, BlockSize)), Sha(held.Memory.Span));
        Assert.Equal(1, cache.GetStatistics().SharedTierHandedOver);
    }

    [Fact]
    public async Task FetchRunInOrder_BlocksFromTheRemote_AreStoredAndWrittenAroundNotHandedOver()
    {
        var (obj, bytes) = PutObject("remote-in-order.bin", 4 * BlockSize);
        await using var cache = NewCache(_dirA);

        foreach (var task in FetchRunInOrder(cache, obj, 0, 4))
        {
            Assert.Null(await task);
        }

        Assert.Equal(4, _tier.Puts);
        Assert.Equal(0, cache.GetStatistics().SharedTierHandedOver);
        await AssertBlocks(cache, obj, bytes, fromCache: true);
    }

    [Fact]
    public async Task CopyToAsync_ObjectInTheTier_BytesEqualThroughAPipeAndAStream_NoLocalCopyUntilTheSecondRead()
    {
        var (obj, bytes) = PutObject("get.bin", (5 * BlockSize) + 7);
        SeedTier(obj, bytes);
        await using var cache = NewCache(_dirA);
        await using var reader = NewReader(cache);

        var output = new MemoryStream();
        var body = new PipeBody(PipeWriter.Create(output), _ => Task.CompletedTask);
        await reader.CopyToAsync(Dataset, obj, 0, obj.Size, body, default);
        await body.Writer.FlushAsync();
        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(6, cache.GetStatistics().SharedTierHandedOver);
        Assert.Equal(0, cache.GetStatistics().Blocks);

        using var plain = new MemoryStream();
        await reader.CopyToAsync(Dataset, obj, 0, obj.Size, plain, default);
        Assert.Equal(Sha(bytes), Sha(plain.ToArray()));
        Assert.Equal(6, cache.GetStatistics().Blocks);
        Assert.Equal(0, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_ClientGoneMidObject_HandedBlocksAreLetGoSoTheNextReaderIsNotHeldUp()
    {
        var (obj, bytes) = PutObject("gone.bin", 6 * BlockSize);
        SeedTier(obj, bytes);
        // A patience no test waits out: only letting go of the abandoned blocks can free the spans.
        await using var cache = NewCache(_dirA, handOffPatience: TimeSpan.FromHours(1));
        await using var reader = NewReader(cache);

        await Assert.ThrowsAsync<IOException>(() => reader.CopyToAsync(Dataset, obj, 0, obj.Size, new FailingAfterFirstWrite(), default));

        using var output = new MemoryStream();
        await reader.CopyToAsync(Dataset, obj, 0, obj.Size, output, default).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(0, _source.Reads);
    }

    private sealed class FailingAfterFirstWrite : Stream
    {
        private int _writes;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ++_writes > 1 ? ValueTask.FromException(new IOException("the client went away")) : ValueTask.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private void SeedTier(RemoteObject obj, byte[] bytes)
    {
        for (var i = 0; i * (long)BlockSize < obj.Size; i++)
        {
            _tier.Seed(IdOf(obj, i), bytes.AsSpan(i * BlockSize, BlockLength(obj, i)));
        }
    }

    private Dataset Dataset => new(new DatasetConfig { Name = "ds", Source = "memory://test/" }, _source);

    private static ObjectReader NewReader(DiskBlockCache cache) =>
        new(
            cache,
            // Two spans of three blocks for a six-block object: a span hands its blocks over one after the other.
            new ObjectReaderOptions { MaxSpanBytes = 3L * BlockSize, MinSpanBytes = BlockSize, ReadAheadStreams = 2, ReadAheadMemoryBytes = 16L * BlockSize },
            NullLogger<ObjectReader>.Instance,
            TimeProvider.System);

    private IReadOnlyList<Task<BlockLease?>> FetchRunInOrder(DiskBlockCache cache, RemoteObject obj, long first, int count) =>
        cache.FetchRunInOrder(KeyOf(obj, first), count, BlockLength(obj, first + count - 1), (sink, ct) => _source.ReadIntoAsync(obj, sink, ct), BlockPriority.OnDemand);

    private async Task AssertBlocks(DiskBlockCache cache, RemoteObject obj, byte[] bytes, bool fromCache = false)
    {
        for (var i = 0; i * (long)BlockSize < obj.Size; i++)
        {
            using var lease = await cache.GetAsync(
                KeyOf(obj, i),
                BlockLength(obj, i),
                (destination, ct) => _source.ReadAsync(obj, i * (long)BlockSize, destination, ct),
                BlockPriority.OnDemand,
                CancellationToken.None);
            Assert.Equal(fromCache, lease.FromCache);
            Assert.Equal(Sha(bytes.AsSpan(i * BlockSize, BlockLength(obj, i))), Sha(lease.Memory.Span));
        }
    }

    private IReadOnlyList<Task> FetchRun(DiskBlockCache cache, RemoteObject obj, long first, int count) =>
        cache.FetchRun(KeyOf(obj, first), count, BlockLength(obj, first + count - 1), (sink, ct) => _source.ReadIntoAsync(obj, sink, ct), BlockPriority.ReadAhead);

    private DiskBlockCache NewCache(TempDirectory dir, TimeSpan? handOffPatience = null) =>
        new(
            new DiskBlockCacheOptions
            {
                Directory = dir.Path,
                QuotaBytes = 1L << 30,
                BlockSize = BlockSize,
                TierHandOffPatience = handOffPatience ?? new DiskBlockCacheOptions { Directory = dir.Path }.TierHandOffPatience,
            },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System,
            _tier);

    private (RemoteObject Obj, byte[] Bytes) PutObject(string key, int size)
    {
        var bytes = new byte[size];
        new Random(size ^ key.Length).NextBytes(bytes);
        return (_source.Put(key, bytes), bytes);
    }

    private BlockKey KeyOf(RemoteObject obj, long index) => new(_source.Identity, obj.Key, obj.ETag, index);

    private SharedBlockId IdOf(RemoteObject obj, long index) => new(_source.Identity, obj.Key, obj.ETag, BlockSize, index);

    private static int BlockLength(RemoteObject obj, long index) => (int)Math.Min(BlockSize, obj.Size - (index * BlockSize));

    private static string Sha(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>A fake tier: blocks in a dictionary, a scripted lease outcome, and an optional fill by "another pod" during a wait.</summary>
    private sealed class InMemoryTier : ISharedBlockTier
    {
        private readonly ConcurrentDictionary<SharedBlockId, byte[]> _blocks = new();
        private int _puts;
        private int _waits;

        public FillLease Lease { get; set; } = FillLease.Acquired;

        public Func<SharedBlockId, byte[]>? FillDuringWait { get; set; }

        public int Puts => Volatile.Read(ref _puts);

        public int Waits => Volatile.Read(ref _waits);

        public void Seed(SharedBlockId id, ReadOnlySpan<byte> block) => _blocks[id] = block.ToArray();

        public ValueTask<bool> TryGetAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (!_blocks.TryGetValue(id, out var block) || block.Length != destination.Length)
            {
                return ValueTask.FromResult(false);
            }

            block.CopyTo(destination);
            return ValueTask.FromResult(true);
        }

        public bool HoldsFillLease(SharedBlockId id) => false;

        public void ObserveRemoteRead(long bytes, TimeSpan elapsed)
        {
        }

        public void Put(SharedBlockId id, ReadOnlyMemory<byte> block, BlockReadBack? readBack = null)
        {
            Interlocked.Increment(ref _puts);
            _blocks[id] = block.ToArray();
        }

        public ValueTask<FillLease> TryAcquireFillLeaseAsync(SharedBlockId id, CancellationToken cancellationToken) => ValueTask.FromResult(Lease);

        public ConcurrentBag<SharedBlockId> Abandoned { get; } = [];

        public void AbandonFillLease(SharedBlockId id) => Abandoned.Add(id);

        public ValueTask<bool> WaitForFillAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _waits);
            if (FillDuringWait is { } fill)
            {
                _blocks[id] = fill(id);
            }

            return TryGetAsync(id, destination, cancellationToken);
        }

        public SharedTierStatus GetStatus() => new("memory", true, SharedTierBreakerState.Closed, new SharedTierCounters(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    }
}
