using System.Buffers;
using System.Collections.Concurrent;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache.SharedTier;

/// <summary>
/// The guard's fill-lease bookkeeping: a write other pods wait for is never dropped for queue space, and a lease the
/// holder cannot honour is given back so a waiter takes it over. The engine here is <see cref="ScriptedStore"/>, a small
/// in-process key/value fake whose writes can be held or failed on cue (which a real engine cannot be made to do
/// deterministically); the real engines behind the same guard are exercised by the integration project's SharedCache tests.
/// </summary>
public sealed class GuardedSharedBlockTierLeaseTests
{
    private static readonly SharedTierOptions Options = new()
    {
        Prefix = "t/",
        Timeout = TimeSpan.FromSeconds(10),
        Lease = TimeSpan.FromMinutes(5), // far longer than any test: a waiter that returns did not wait it out
        MaxPendingWrites = 1,
        WriterConcurrency = 1,
    };

    private static readonly byte[] Block = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();

    [Fact]
    public async Task Put_QueueFull_DroppedLeasedBlockGivesItsLeaseBackAndTheWaiterTakesItOver()
    {
        var store = new ScriptedStore();
        store.HoldWrites();
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(1), CancellationToken.None));

        holder.Put(Id(0), Block); // held at the engine: the queue of one is full
        holder.Put(Id(1), Block); // dropped for space, so its lease goes back
        var filled = await waiter.WaitForFillAsync(Id(1), new byte[Block.Length], CancellationToken.None);

        Assert.False(filled); // the waiter fetches block 1 itself, as its new holder
        Assert.Equal(1, holder.Metrics.Snapshot().DroppedWrites);
        Assert.Equal(3, store.LeasesCreated);
        Assert.Equal(FillLease.HeldElsewhere, await holder.TryAcquireFillLeaseAsync(Id(1), CancellationToken.None));
        store.ReleaseWrites();
        await Until(() => holder.Metrics.PendingWrites == 0);
        Assert.Equal(1, holder.Metrics.Snapshot().Fills);
    }

    [Fact]
    public async Task WaitForFill_HoldersWriteFails_LeaseIsGivenBackAndTheWaiterTakesItOver()
    {
        var store = new ScriptedStore { FailWrites = true };
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(FillLease.HeldElsewhere, await waiter.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));

        holder.Put(Id(0), Block);
        var filled = await waiter.WaitForFillAsync(Id(0), new byte[Block.Length], CancellationToken.None);

        Assert.False(filled); // the waiter fetches the block itself...
        Assert.Equal(2, store.LeasesCreated); // ...as the new holder, not past an expired lease
        Assert.Equal(FillLease.HeldElsewhere, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
    }

    [Fact]
    public async Task AbandonFillLease_HolderCannotFetch_TheWaiterTakesOverAndItsFillReachesAThirdPod()
    {
        var store = new ScriptedStore();
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var third = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));

        holder.AbandonFillLease(Id(0));
        Assert.False(await waiter.WaitForFillAsync(Id(0), new byte[Block.Length], CancellationToken.None));
        waiter.Put(Id(0), Block);

        var destination = new byte[Block.Length];
        Assert.True(await third.WaitForFillAsync(Id(0), destination, CancellationToken.None));
        Assert.Equal(Block, destination);
    }

    [Fact]
    public async Task AbandonFillLease_LeaseHeldByAnotherPod_IsLeftAlone()
    {
        var store = new ScriptedStore();
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var other = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));

        other.AbandonFillLease(Id(0)); // not its lease
        await Task.Delay(50);

        Assert.Equal(FillLease.HeldElsewhere, await other.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
    }

    private static SharedBlockId Id(long index) => new("s3|http://remote.test|bucket", "model.bin", "\"e1\"", Block.Length, index);

    private static async Task Until(Func<bool> condition)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }

    /// <summary>Keys in a dictionary; SET NX and compare-and-delete as Redis does them; writes held or failed on cue.</summary>
    private sealed class ScriptedStore : ISharedTierStore
    {
        private readonly ConcurrentDictionary<string, byte[]> _values = new(StringComparer.Ordinal);
        private TaskCompletionSource _writeGate = CompletedGate();
        private int _leasesCreated;

        public string Engine => "scripted";

        public bool IsConnected => true;

        public bool FailWrites { get; init; }

        public int LeasesCreated => Volatile.Read(ref _leasesCreated);

        public void HoldWrites() => _writeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReleaseWrites() => _writeGate.TrySetResult();

        public Task<IMemoryOwner<byte>?> GetAsync(string key, int maxLength, CancellationToken cancellationToken) =>
            Task.FromResult<IMemoryOwner<byte>?>(_values.TryGetValue(key, out var value) && value.Length <= maxLength ? new Owned(value) : null);

        public async Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            await _writeGate.Task.WaitAsync(cancellationToken);
            if (FailWrites)
            {
                throw new IOException("scripted write failure");
            }

            _values[key] = value.ToArray();
        }

        public Task<bool?> TryCreateAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
        {
            var created = _values.TryAdd(key, value.ToArray());
            if (created)
            {
                Interlocked.Increment(ref _leasesCreated);
            }

            return Task.FromResult<bool?>(created);
        }

        public Task DeleteIfValueAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            if (_values.TryGetValue(key, out var current) && current.AsSpan().SequenceEqual(value.Span))
            {
                _values.TryRemove(KeyValuePair.Create(key, current));
            }

            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private static TaskCompletionSource CompletedGate()
        {
            var gate = new TaskCompletionSource();
            gate.SetResult();
            return gate;
        }

        private sealed class Owned(byte[] value) : IMemoryOwner<byte>
        {
            public Memory<byte> Memory => value;

            public void Dispose()
            {
            }
        }
    }
}
