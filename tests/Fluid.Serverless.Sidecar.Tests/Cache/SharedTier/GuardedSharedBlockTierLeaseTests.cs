using System.Buffers;
using System.Collections.Concurrent;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

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

    [Fact]
    public async Task WaitForFill_HolderSlowerThanTheLease_RenewsIt_AndTheWaiterGetsItsFillInsteadOfFetching()
    {
        // A fake clock, moved by the test one renewal period at a time and only once the holder has renewed: the lease
        // times out in the store by the same clock, so a loaded machine cannot make the holder miss a renewal.
        var time = new FakeTimeProvider();
        var store = new ScriptedStore(time);
        var lease = TimeSpan.FromSeconds(3);
        var options = Options with { Lease = lease };
        await using var holder = new GuardedSharedBlockTier(store, options, time, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, options, time, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));

        var destination = new byte[Block.Length];
        var waiting = waiter.WaitForFillAsync(Id(0), destination, CancellationToken.None).AsTask();
        var step = TimeSpan.FromMilliseconds(100);
        for (var passed = TimeSpan.Zero; passed < lease * 3; passed += step) // an unrenewed lease would have run out
        {
            // Never further than the lease's last renewal allows: the step waits for a renewal that is due.
            var due = (int)(passed / (lease / 3));
            await Until(() => store.Renewals >= due - 1);
            time.Advance(step);
        }

        Assert.False(waiting.IsCompleted);
        holder.Put(Id(0), Block);
        for (var i = 0; i < 100 && !waiting.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200)); // the waiter's next poll
            await Task.Delay(20);
        }

        Assert.True(await waiting);
        Assert.Equal(Block, destination);
        Assert.Equal(1, store.LeasesCreated); // no takeover: the waiter never fetched the block itself
        Assert.True(holder.Metrics.Snapshot().LeaseRenewals >= 7);
    }

    [Fact]
    public async Task Put_QueueFull_LeasedBlockThatCanBeReadBackIsDeferredNotDropped_AndReachesTheWaiter()
    {
        var store = new ScriptedStore();
        store.HoldWrites();
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(1), CancellationToken.None));
        var second = Block.Reverse().ToArray();
        var readBacks = 0;

        holder.Put(Id(0), Block); // held at the engine: the queue of one copy is full
        holder.Put(Id(1), second, destination =>
        {
            Interlocked.Increment(ref readBacks);
            second.CopyTo(destination);
            return true;
        });
        Assert.Equal(0, holder.Metrics.Snapshot().DroppedWrites);
        Assert.Equal(1, holder.Metrics.Snapshot().DeferredWrites);
        Assert.Equal(2, holder.Metrics.Snapshot().PendingWrites);
        store.ReleaseWrites();

        var destination = new byte[Block.Length];
        Assert.True(await waiter.WaitForFillAsync(Id(1), destination, CancellationToken.None));
        Assert.Equal(second, destination);
        Assert.Equal(1, readBacks);
        Assert.Equal(2, store.LeasesCreated); // the waiter never took a lease over
        await Until(() => holder.Metrics.Snapshot().PendingWrites == 0);
        Assert.Equal(2, holder.Metrics.Snapshot().Fills);
    }

    [Fact]
    public async Task Put_BlocksThatCanBeReadBack_AreQueuedWithoutACopy_EachWriteReadsItsOwnBlockBackFromDisk()
    {
        var store = new ScriptedStore();
        store.HoldWrites();
        await using var holder = new GuardedSharedBlockTier(store, Options with { MaxPendingWrites = 4 }, TimeProvider.System, NullLogger.Instance);
        await using var reader = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        var onDisk = new[] { Block, Block.Reverse().ToArray(), Block.Select(b => (byte)~b).ToArray() };
        var flightBuffer = Block.ToArray();

        for (var i = 0; i < onDisk.Length; i++)
        {
            var stored = onDisk[i];
            holder.Put(Id(i), flightBuffer, destination =>
            {
                stored.CopyTo(destination);
                return true;
            });
        }

        // The caller's buffer goes back to its pool and is reused before any write lands: a queued copy would not care,
        // a write that had kept a reference to it would send these bytes.
        Array.Fill(flightBuffer, (byte)0xEE);
        store.ReleaseWrites();
        await Until(() => holder.Metrics.Snapshot().PendingWrites == 0);

        Assert.Equal(3, holder.Metrics.Snapshot().Fills);
        Assert.Equal(0, holder.Metrics.Snapshot().DeferredWrites); // within the bound: not the over-the-bound path
        for (var i = 0; i < onDisk.Length; i++)
        {
            var destination = new byte[Block.Length];
            Assert.True(await reader.TryGetAsync(Id(i), destination, CancellationToken.None));
            Assert.Equal(onDisk[i], destination);
        }
    }

    [Fact]
    public async Task Put_DeferredBlockGoneFromDisk_IsDroppedAndItsLeaseGivenBack()
    {
        var store = new ScriptedStore();
        store.HoldWrites();
        await using var holder = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        await using var waiter = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(FillLease.Acquired, await holder.TryAcquireFillLeaseAsync(Id(1), CancellationToken.None));

        holder.Put(Id(0), Block);
        holder.Put(Id(1), Block, _ => false); // evicted before a writer was free
        store.ReleaseWrites();

        Assert.False(await waiter.WaitForFillAsync(Id(1), new byte[Block.Length], CancellationToken.None));
        Assert.Equal(1, holder.Metrics.Snapshot().DroppedWrites);
        Assert.Equal(3, store.LeasesCreated); // the waiter took the lease over, as the new holder
    }

    [Fact]
    public async Task Put_BlockFileUnreadableWhenItsWriteIsSent_ThatWriteIsDropped_AndTheWriterGoesOn()
    {
        var store = new ScriptedStore();
        store.HoldWrites();
        await using var holder = new GuardedSharedBlockTier(store, Options with { MaxPendingWrites = 4 }, TimeProvider.System, NullLogger.Instance);
        await using var reader = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);

        holder.Put(Id(0), Block, _ => throw new IOException("Input/output error"));
        holder.Put(Id(1), Block, destination =>
        {
            Block.CopyTo(destination);
            return true;
        });
        store.ReleaseWrites();
        await Until(() => holder.Metrics.Snapshot().PendingWrites == 0);

        Assert.Equal((1, 1), (holder.Metrics.Snapshot().DroppedWrites, holder.Metrics.Snapshot().Fills));
        var destination = new byte[Block.Length];
        Assert.False(await reader.TryGetAsync(Id(0), destination, CancellationToken.None));
        Assert.True(await reader.TryGetAsync(Id(1), destination, CancellationToken.None));
        Assert.Equal(Block, destination);
    }

    [Fact]
    public async Task TryAcquireFillLease_EngineNotConnected_IsUnavailableWithoutAsking()
    {
        // Not "held elsewhere": no engine holds a lease for anyone, and waiting on one would only delay the fetch.
        var store = new ScriptedStore { IsConnected = false };
        await using var tier = new GuardedSharedBlockTier(store, Options, TimeProvider.System, NullLogger.Instance);

        Assert.Equal(FillLease.Unavailable, await tier.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(0, store.LeasesCreated);
        Assert.Equal(0, tier.Metrics.Snapshot().Errors);
    }

    [Fact]
    public async Task TryAcquireFillLease_CallTimesOutButLanded_IsHeldElsewhere_ThenFoundAsOurOwn()
    {
        var store = new ScriptedStore { SlowCreates = TimeSpan.FromMilliseconds(500) };
        await using var tier = new GuardedSharedBlockTier(store, Options with { Timeout = TimeSpan.FromMilliseconds(50) }, TimeProvider.System, NullLogger.Instance);

        // Slow, not down: waiting on the lease beats every slow pod fetching the block from the remote.
        Assert.Equal(FillLease.HeldElsewhere, await tier.TryAcquireFillLeaseAsync(Id(0), CancellationToken.None));
        Assert.Equal(1, tier.Metrics.Snapshot().Timeouts);
        store.SlowCreates = TimeSpan.Zero;

        Assert.False(await tier.WaitForFillAsync(Id(0), new byte[Block.Length], CancellationToken.None)); // ours: fetch it
        Assert.Equal(1, store.LeasesCreated);
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

    /// <summary>
    /// Keys in a dictionary; SET NX PX, compare-and-delete and compare-and-PEXPIRE as Redis does them (a lease expires);
    /// writes held or failed, and lease creates slowed, on cue.
    /// </summary>
    private sealed class ScriptedStore(TimeProvider? clock = null) : ISharedTierStore
    {
        private readonly TimeProvider _clock = clock ?? TimeProvider.System;
        private readonly ConcurrentDictionary<string, byte[]> _values = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, long> _expiries = new(StringComparer.Ordinal);
        private TaskCompletionSource _writeGate = CompletedGate();
        private int _leasesCreated;
        private int _renewals;

        public string Engine => "scripted";

        public bool IsConnected { get; set; } = true;

        public bool FailWrites { get; init; }

        public int LeasesCreated => Volatile.Read(ref _leasesCreated);

        public int Renewals => Volatile.Read(ref _renewals);

        public void HoldWrites() => _writeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReleaseWrites() => _writeGate.TrySetResult();

        private long Now => (long)_clock.GetElapsedTime(0).TotalMilliseconds;

        /// <summary>A lease create that lands at once but answers only after this long (a call that times out under load).</summary>
        public TimeSpan SlowCreates { get; set; }

        public Task<IMemoryOwner<byte>?> GetAsync(string key, int maxLength, CancellationToken cancellationToken) =>
            Task.FromResult<IMemoryOwner<byte>?>(TryGetLive(key, out var value) && value.Length <= maxLength ? new Owned(value) : null);

        private bool TryGetLive(string key, out byte[] value)
        {
            if (_expiries.TryGetValue(key, out var deadline) && Now >= deadline)
            {
                _values.TryRemove(key, out _);
                _expiries.TryRemove(key, out _);
            }

            return _values.TryGetValue(key, out value!);
        }

        public async Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            await _writeGate.Task.WaitAsync(cancellationToken);
            if (FailWrites)
            {
                throw new IOException("scripted write failure");
            }

            _values[key] = value.ToArray();
        }

        public async Task<bool?> TryCreateAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
        {
            TryGetLive(key, out _);
            var created = _values.TryAdd(key, value.ToArray());
            if (created)
            {
                _expiries[key] = Now + (long)lifetime.TotalMilliseconds;
                Interlocked.Increment(ref _leasesCreated);
            }

            await Task.Delay(SlowCreates, cancellationToken);
            return created || (TryGetLive(key, out var current) && current.AsSpan().SequenceEqual(value.Span));
        }

        public Task DeleteIfValueAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            if (TryGetLive(key, out var current) && current.AsSpan().SequenceEqual(value.Span))
            {
                _values.TryRemove(KeyValuePair.Create(key, current));
                _expiries.TryRemove(key, out _);
            }

            return Task.CompletedTask;
        }

        public Task<bool> TryExtendAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
        {
            var ours = TryGetLive(key, out var current) && current.AsSpan().SequenceEqual(value.Span);
            if (ours)
            {
                _expiries[key] = Now + (long)lifetime.TotalMilliseconds;
                Interlocked.Increment(ref _renewals);
            }

            return Task.FromResult(ours);
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
