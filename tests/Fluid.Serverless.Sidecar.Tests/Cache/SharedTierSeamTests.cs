using System.Collections.Concurrent;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
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

    private DiskBlockCache NewCache(TempDirectory dir) =>
        new(
            new DiskBlockCacheOptions { Directory = dir.Path, QuotaBytes = 1L << 30, BlockSize = BlockSize },
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
