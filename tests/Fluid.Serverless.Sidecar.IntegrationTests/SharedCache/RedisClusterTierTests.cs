using System.Globalization;
using Fluid.Serverless.Sidecar.Cache.SharedTier;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>The Redis-protocol tier against a real 3-master Redis Cluster (redis-server --cluster-enabled yes).</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterTierTests(RedisClusterFixture cluster)
{
    [Fact]
    public async Task PutThenGet_BlocksSpreadOverEveryMaster_BytesEqual()
    {
        await using var tier = TierTesting.Redis(cluster.Endpoints, out var store);
        await TierTesting.ConnectedAsync(tier);
        var blocks = Enumerable.Range(0, 24).Select(i => (Id: TierTesting.Id("train/shard-0001.tar", i, 256 * 1024), Bytes: TierTesting.Bytes(256 * 1024, i))).ToList();
        blocks.Add((TierTesting.Id("train/big.bin", 0), TierTesting.Bytes(4 << 20, 99)));
        foreach (var (id, bytes) in blocks)
        {
            tier.Put(id, bytes);
        }

        await TierTesting.DrainAsync(tier);
        Assert.Equal(blocks.Count, tier.Metrics.Snapshot().Fills);

        foreach (var (id, bytes) in blocks)
        {
            var read = new byte[bytes.Length];
            Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None), $"block {id.ObjectKey}#{id.BlockIndex} missed");
            Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        }

        // Cluster-aware: the blocks landed on every master, not on the one seed node.
        foreach (var port in cluster.Ports)
        {
            var keys = await RedisServers.CliAsync("-p", port.ToString(CultureInfo.InvariantCulture), "--scan", "--pattern", TierTesting.Relaxed.Prefix + "blk/*");
            Assert.NotEmpty(keys.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        var counters = tier.Metrics.Snapshot();
        Assert.Equal(blocks.Count, counters.Hits);
        Assert.Equal(blocks.Sum(b => (long)b.Bytes.Length), counters.BytesRead);
        Assert.Equal(0, counters.Errors);

        // Every block went to and came back over the tier's own connections to the master that owns it, none through
        // the library.
        Assert.Equal(blocks.Count, store.DirectWrites);
        Assert.Equal(0, store.LibraryWrites);
        Assert.Equal(blocks.Count, store.DirectReads);
        Assert.Equal(0, store.LibraryReads);
    }

    [Fact]
    public async Task TryGet_AbsentBlockOrChangedVersion_Misses()
    {
        await using var tier = TierTesting.Redis(cluster.Endpoints);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("versioned.bin", 0, 1024);
        await TierTesting.PutAndWaitAsync(tier, id, TierTesting.Bytes(1024, 1));

        Assert.False(await tier.TryGetAsync(id with { Version = "\"etag-2\"" }, new byte[1024], CancellationToken.None));
        Assert.False(await tier.TryGetAsync(TierTesting.Id("never-written.bin"), new byte[1024], CancellationToken.None));
        Assert.Equal(2, tier.Metrics.Snapshot().Misses);
    }

    [Fact]
    public async Task TryGet_ValueOverwrittenRawOrOneByteFlipped_IsMissCountedAsCorruptThenRefilled()
    {
        await using var tier = TierTesting.Redis(cluster.Endpoints, out var store);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("corrupt.bin", 0, 64 * 1024);
        var bytes = TierTesting.Bytes(64 * 1024, 3);
        var key = KeyOf(id);
        var (port, _) = await cluster.OwnerAsync(key);
        var node = port.ToString(CultureInfo.InvariantCulture);

        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        await RedisServers.CliAsync("-p", node, "SET", key, "not a block");
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));

        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        await RedisServers.CliAsync("-p", node, "SETRANGE", key, "1000", "X");
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));

        // Longer than any block value: a miss, not read whole (its connection is closed, not reused half-read).
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        await RedisServers.CliAsync("-p", node, "APPEND", key, "trailing bytes");
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));

        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        var read = new byte[bytes.Length];
        Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));

        var counters = tier.Metrics.Snapshot();
        Assert.Equal(2, counters.CorruptValues);
        Assert.Equal(3, counters.Misses);
        Assert.Equal(1, counters.Hits);
        Assert.Equal(0, counters.Errors);
        Assert.Equal(4, store.DirectReads);
    }

    [Fact]
    public async Task FillLease_TwoPodsAtOnce_ExactlyOneWinsAndTheOtherGetsItsBlock()
    {
        await using var first = TierTesting.Redis(cluster.Endpoints);
        await using var second = TierTesting.Redis(cluster.Endpoints);
        await TierTesting.ConnectedAsync(first);
        await TierTesting.ConnectedAsync(second);
        var id = TierTesting.Id("contended.bin", 7, 128 * 1024);

        var leases = await Task.WhenAll(
            first.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask(),
            second.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask());

        Assert.Equal([FillLease.Acquired, FillLease.HeldElsewhere], leases.Order());
        var (winner, waiter) = leases[0] == FillLease.Acquired ? (first, second) : (second, first);
        var bytes = TierTesting.Bytes(128 * 1024, 7);
        var read = new byte[bytes.Length];
        var waiting = waiter.WaitForFillAsync(id, read, CancellationToken.None).AsTask();
        winner.Put(id, bytes);
        Assert.True(await waiting);
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        Assert.Equal(1, waiter.Metrics.Snapshot().LeaseWaits);
    }

    [Fact]
    public async Task TryGet_WhileTheKeysSlotMigratesToAnotherMaster_KeepsHitting()
    {
        await using var tier = TierTesting.Redis(cluster.Endpoints, out var store);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("resharded.bin", 0, 512 * 1024);
        var bytes = TierTesting.Bytes(512 * 1024, 11);
        var expected = TierTesting.Sha256(bytes);
        await TierTesting.PutAndWaitAsync(tier, id, bytes);

        var key = KeyOf(id);
        var (source, slot) = await cluster.OwnerAsync(key);
        var target = cluster.Ports.First(p => p != source);
        var sourceId = await RedisClusterFixture.NodeIdAsync(source);
        var targetId = await RedisClusterFixture.NodeIdAsync(target);
        var slotText = slot.ToString(CultureInfo.InvariantCulture);
        string Port(int p) => p.ToString(CultureInfo.InvariantCulture);

        var reads = 0;
        using var stop = new CancellationTokenSource();
        var background = Task.Run(async () =>
        {
            var failures = 0;
            while (!stop.IsCancellationRequested)
            {
                var read = new byte[bytes.Length];
                if (!await tier.TryGetAsync(id, read, CancellationToken.None) || TierTesting.Sha256(read) != expected)
                {
                    failures++;
                }

                Interlocked.Increment(ref reads);
            }

            return failures;
        });

        async Task ReadOnceAsync(string stage)
        {
            var read = new byte[bytes.Length];
            Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None), $"miss {stage}");
            Assert.Equal(expected, TierTesting.Sha256(read));
        }

        // The steps redis-cli --cluster reshard takes for one slot, with a read after each.
        await RedisServers.CliAsync("-p", Port(target), "CLUSTER", "SETSLOT", slotText, "IMPORTING", sourceId);
        await RedisServers.CliAsync("-p", Port(source), "CLUSTER", "SETSLOT", slotText, "MIGRATING", targetId);
        await ReadOnceAsync("with the slot migrating, key still on the source");
        await RedisServers.CliAsync("-p", Port(source), "MIGRATE", "127.0.0.1", Port(target), "", "0", "10000", "KEYS", key);
        await ReadOnceAsync("with the key moved, slot still migrating (ASK redirection)");
        // Target first, then source, then the rest: the order redis-cli uses, so no node ever redirects back and forth.
        foreach (var port in cluster.Ports.OrderBy(p => p == target ? 0 : p == source ? 1 : 2))
        {
            await RedisServers.CliAsync("-p", Port(port), "CLUSTER", "SETSLOT", slotText, "NODE", targetId);
        }

        await ReadOnceAsync("after the slot moved (MOVED redirection)");
        Assert.Equal((target, slot), await cluster.OwnerAsync(key));
        await TierTesting.Until(() => Volatile.Read(ref reads) > 3, "background reads");
        await stop.CancelAsync();
        var failures = await background;
        Assert.True(failures == 0, $"{failures} of {Volatile.Read(ref reads)} background reads missed: {tier.Metrics.Snapshot()}");
        Assert.Equal(0, tier.Metrics.Snapshot().Errors);

        // The node's ASK (and MOVED, until the library saw the new owner) sent those reads through the library.
        Assert.True(store.LibraryReads > 0, $"no read went through the library: {store.DirectReads} direct");
        Assert.True(store.DirectReads > 0, "no read came over the tier's own connections");

        // A write after the move: the writes client still names the old owner, whose MOVED sends the write to the
        // library, and the block lands on the new owner.
        await RedisServers.CliAsync("-p", Port(target), "DEL", key);
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        await ReadOnceAsync("after a write that followed MOVED");
        Assert.Equal((1, 1), (store.DirectWrites, store.LibraryWrites));
    }

    private static string KeyOf(SharedBlockId id)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        return SharedTierKeys.Block(TierTesting.Relaxed.Prefix, hash);
    }
}
