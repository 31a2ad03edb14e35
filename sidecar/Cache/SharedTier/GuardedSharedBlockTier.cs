using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Fluid.Serverless.Sidecar.Resilience;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// Makes sure the tier never makes a read worse: every engine call runs under a timeout inside a circuit breaker (an open
/// breaker skips the tier at once), writes wait in a bounded queue off the reader's path and are dropped when it is
/// full, and no engine exception reaches a reader: failures are misses, counted. A fill lease this pod cannot honour
/// (its fetch failed, or the write was dropped or failed) is given back, so a waiting pod takes it over at its next
/// poll instead of waiting out the lease time. A lease this pod is still filling is renewed every third of the lease
/// time, so a holder slowed down by its remote or its node keeps its waiters waiting instead of sending them all to
/// the remote; a holder that dies stops renewing, and its lease expires within one lease time.
/// </summary>
internal sealed partial class GuardedSharedBlockTier : ISharedBlockTier, IAsyncDisposable
{
    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How many lease times a pod waits for a fill, and a holder renews its lease, at most: a fetch that takes longer is
    /// stuck (the remote's own timeouts end a slow one sooner), and its waiters fetch the block themselves.
    /// </summary>
    internal const int LongestFillInLeases = 6;

    /// <summary>
    /// The slowest transfer of a block value that still counts as the engine working (16 MiB/s: a 4 MiB block adds
    /// 250 ms to <c>timeoutMilliseconds</c>). A loaded engine moving blocks slowly is not failing; a call that is slower
    /// than this is, and goes to the breaker.
    /// </summary>
    private const long SlowestTransferBytesPerSecond = 16L * 1024 * 1024;

    /// <summary>
    /// Block reads this pod has at the engine at once. More would only queue behind each other on the connection, where
    /// the wait would count against each read's timeout and make a busy tier look like a failing one; here they queue
    /// before their clock starts.
    /// </summary>
    private const int ReadsInFlight = 4;

    private static readonly ResiliencePropertyKey<TimeSpan> CallTimeout = new("fluid.shared-tier.timeout");

    private readonly SemaphoreSlim readSlots = new(ReadsInFlight);

    /// <summary>Recent remote reads, in seconds per byte (a moving average; 0 until the first): see <see cref="ObserveRemoteRead"/>.</summary>
    private double remoteSecondsPerByte;
    private int disposed;

    private readonly ISharedTierStore store;
    private readonly SharedTierOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly ResiliencePipeline pipeline;
    private readonly CircuitBreakerStateProvider breakerState = new();
    private readonly Channel<PendingWrite> writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] writers;
    private readonly byte[] leaseOwner = Guid.NewGuid().ToByteArray();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task renewals;

    /// <summary>Fill leases this pod holds and has not written or given back yet: lease key → when it was taken.</summary>
    private readonly ConcurrentDictionary<string, long> heldLeases = new(StringComparer.Ordinal);

    public GuardedSharedBlockTier(ISharedTierStore store, SharedTierOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        this.store = store;
        this.options = options;
        this.timeProvider = timeProvider;
        this.logger = logger;

        var breaker = new CircuitBreakerStrategyOptions
        {
            // Every engine failure and timeout counts; the caller's own cancellation does not.
            ShouldHandle = new PredicateBuilder().Handle<Exception>(static e => e is not OperationCanceledException and not BrokenCircuitException),
            StateProvider = breakerState,
        };
        SourcePipelineFactory.WithBreakerSettings(breaker, "shared-tier", options.Breaker, logger, static outcome => outcome.Exception?.Message);
        pipeline = new ResiliencePipelineBuilder { Name = "shared-tier", TimeProvider = timeProvider }
            .AddCircuitBreaker(breaker)
            .AddTimeout(new TimeoutStrategyOptions
            {
                TimeoutGenerator = static args => ValueTask.FromResult(args.Context.Properties.GetValue(CallTimeout, TimeSpan.Zero)),
            })
            .Build();
        writers = new Task[Math.Max(1, options.WriterConcurrency)];
        for (var i = 0; i < writers.Length; i++)
        {
            writers[i] = Task.Run(WriteLoopAsync);
        }

        // The timer starts now, with the tier, so the first renewal is due a third of a lease after any lease this pod takes.
        renewals = RenewLoopAsync(new PeriodicTimer(options.Lease / 3, timeProvider));
    }

    /// <summary>The longest a fill is waited for, and a lease renewed.</summary>
    private TimeSpan LongestFill => options.Lease * LongestFillInLeases;

    public SharedTierMetrics Metrics { get; } = new();

    public SharedTierStatus GetStatus() => new(store.Engine, store.IsConnected, BreakerState, Metrics.Snapshot());

    private SharedTierBreakerState BreakerState => breakerState.CircuitState switch
    {
        CircuitState.Open or CircuitState.Isolated => SharedTierBreakerState.Open,
        CircuitState.HalfOpen => SharedTierBreakerState.HalfOpen,
        _ => SharedTierBreakerState.Closed,
    };

    public async ValueTask<bool> TryGetAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var found = await TryReadAsync(SharedTierKeys.Block(options.Prefix, hash), hash, destination, cancellationToken).ConfigureAwait(false);
        Count(found, destination.Length);
        return found == ReadOutcome.Hit;
    }

    public void Put(SharedBlockId id, ReadOnlyMemory<byte> block, BlockReadBack? readBack = null)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var leaseKey = SharedTierKeys.Lease(options.Prefix, hash);
        // The lease stays held (and renewed) until the write lands: other pods wait on it, not on the queue.
        var holdsLease = heldLeases.ContainsKey(leaseKey);

        // Nothing to write to: a client still connecting, an engine that went away, or a breaker that is open. Waiters
        // for a lease we hold find the tier failing too and stop waiting at once.
        if (!store.IsConnected || BreakerState == SharedTierBreakerState.Open)
        {
            heldLeases.TryRemove(leaseKey, out _);
            Metrics.Dropped();
            return;
        }

        var key = SharedTierKeys.Block(options.Prefix, hash);
        // The bound on queued blocks keeps memory in check (a remote faster than the tier would otherwise queue whole
        // objects). Past it, a block other pods wait for is queued without its bytes and read back from this pod's
        // disk when a writer is free: dropping it would send every waiter to the remote. Only a block without a lease,
        // or one that cannot be read back, is dropped, and a dropped leased block gives its lease back so a waiting pod
        // takes it over at its next poll.
        if (!Metrics.TryReserveWrite(options.MaxPendingWrites))
        {
            if (holdsLease && readBack is not null && options.MaxPendingWrites > 0 && writes.Writer.TryWrite(new PendingWrite(key, hash, null, block.Length, leaseKey, readBack, Reserved: false)))
            {
                Metrics.Deferred();
                return;
            }

            Metrics.Dropped();
            if (holdsLease)
            {
                LetGo(leaseKey);
            }

            return;
        }

        // Within the bound, a block already on this pod's disk is queued without its bytes too, and read back when a
        // writer sends it: queued copies were large-object arrays that only a full collection gives back, and with the
        // tier up they tripled the sidecar's RSS under load (bench/footprint/README.md). A block not on disk yet is
        // copied into a block buffer, which goes back to the pool once sent; the header is made when it is sent.
        byte[]? copy = null;
        if (readBack is null)
        {
            copy = BlockBuffers.Rent(block.Length);
            block.Span.CopyTo(copy);
        }

        if (!writes.Writer.TryWrite(new PendingWrite(key, hash, copy, block.Length, holdsLease ? leaseKey : null, readBack, Reserved: true)))
        {
            // Only after disposal.
            Metrics.WriteDone();
            Metrics.Dropped();
        }
    }

    /// <summary>Stops renewing a lease this pod will not fill and gives it back at the engine.</summary>
    private void LetGo(string leaseKey)
    {
        if (heldLeases.TryRemove(leaseKey, out _))
        {
            _ = ReleaseLeaseAsync(leaseKey);
        }
    }

    public void AbandonFillLease(SharedBlockId id)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        LetGo(SharedTierKeys.Lease(options.Prefix, hash));
    }

    public bool HoldsFillLease(SharedBlockId id)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        return heldLeases.ContainsKey(SharedTierKeys.Lease(options.Prefix, hash));
    }

    public async ValueTask<FillLease> TryAcquireFillLeaseAsync(SharedBlockId id, CancellationToken cancellationToken)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        return await TryTakeLeaseAsync(SharedTierKeys.Lease(options.Prefix, hash), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One <c>SET NX</c> of the lease. A call that fails while the breaker is closed (a timeout under load) is reported
    /// as held elsewhere, not as unavailable: the caller then waits, and its takeover attempts find the lease if the
    /// create landed after all (the store's create is idempotent for its owner), instead of every pod whose call was
    /// slow fetching the block from the remote.
    /// </summary>
    private async ValueTask<FillLease> TryTakeLeaseAsync(string leaseKey, CancellationToken cancellationToken)
    {
        // No engine to hold a lease (a client still connecting, or one whose engine went away): nobody can fill the block
        // for us, so fetch it. Asking anyway made the answer depend on a race: before the client's first connection
        // attempt ended the call returned at once (unavailable), after it the call threw and counted as a slow engine
        // (held elsewhere), and the pod waited on a lease that no engine held.
        if (!store.IsConnected)
        {
            return FillLease.Unavailable;
        }

        var failed = false;
        var created = await GuardAsync(
            async token => await store.TryCreateAsync(leaseKey, leaseOwner, options.Lease, token).ConfigureAwait(false),
            (bool?)null,
            options.Timeout,
            cancellationToken,
            () => failed = true).ConfigureAwait(false);
        switch (created)
        {
            case true:
                heldLeases[leaseKey] = timeProvider.GetTimestamp();
                return FillLease.Acquired;
            case false:
                return FillLease.HeldElsewhere;
            default:
                return failed && BreakerState != SharedTierBreakerState.Open ? FillLease.HeldElsewhere : FillLease.Unavailable;
        }
    }

    /// <summary>
    /// Every third of the lease time, pushes out the expiry of each lease whose fill is still in flight. A lease held
    /// longer than <see cref="LongestFill"/> (a fetch whose caller went away without a word) is let go, so the table
    /// stays as small as the fetches in flight; a renewal the engine refuses (the lease expired and changed hands, or an
    /// engine that cannot renew) is let go too.
    /// </summary>
    private async Task RenewLoopAsync(PeriodicTimer timer)
    {
        using var ticks = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token).ConfigureAwait(false))
            {
                var renewing = new List<Task>();
                foreach (var (key, taken) in heldLeases)
                {
                    if (timeProvider.GetElapsedTime(taken) > LongestFill)
                    {
                        heldLeases.TryRemove(key, out _);
                    }
                    else
                    {
                        renewing.Add(RenewAsync(key));
                    }
                }

                await Task.WhenAll(renewing).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task RenewAsync(string leaseKey)
    {
        var renewed = await GuardAsync<bool?>(
            async token => await store.TryExtendAsync(leaseKey, leaseOwner, options.Lease, token).ConfigureAwait(false),
            (bool?)null,
            // Off every reader's path, and the next renewal is not due before a third of the lease: a slow one may take
            // that long rather than count as a failure and let the lease lapse under load.
            TimeSpan.FromTicks(Math.Max(options.Timeout.Ticks, (options.Lease / 3).Ticks)),
            stopping.Token).ConfigureAwait(false);
        if (renewed == false)
        {
            heldLeases.TryRemove(leaseKey, out _);
        }
        else if (renewed == true)
        {
            Metrics.LeaseRenewed();
        }
    }

    private async Task ReleaseLeaseAsync(string leaseKey)
    {
        await GuardAsync(
            async token =>
            {
                await store.DeleteIfValueAsync(leaseKey, leaseOwner, token).ConfigureAwait(false);
                return true;
            },
            false,
            options.Timeout,
            CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask<bool> WaitForFillAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Metrics.LeaseWait();
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var key = SharedTierKeys.Block(options.Prefix, hash);
        var leaseKey = SharedTierKeys.Lease(options.Prefix, hash);
        var started = timeProvider.GetTimestamp();
        var pause = FirstPoll;
        while (true)
        {
            var found = await TryReadAsync(key, hash, destination, cancellationToken).ConfigureAwait(false);
            var waited = timeProvider.GetElapsedTime(started);
            // An open breaker ends the wait at once: the holder's fill would not reach us either. One slow poll does not:
            // under load the holder's fill may still arrive, and a waiter that gives up costs the remote a second fetch.
            if (found == ReadOutcome.Hit || (found == ReadOutcome.Failed && BreakerState == SharedTierBreakerState.Open) || waited + pause > LongestFill)
            {
                Count(found, destination.Length);
                return found == ReadOutcome.Hit;
            }

            // The holder gave its lease back (its fetch or write failed) or stopped renewing it (it died): the first
            // waiter to take it over fetches the block for everyone, and the others go on waiting for that fill.
            if (await TryTakeLeaseAsync(leaseKey, cancellationToken).ConfigureAwait(false) == FillLease.Acquired)
            {
                Count(found, destination.Length);
                return false;
            }

            await Task.Delay(pause, timeProvider, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPoll.Ticks));
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The container disposes the tier once per service it is registered as.
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        await renewals.ConfigureAwait(false);
        stopping.Dispose();
        writes.Writer.TryComplete();
        try
        {
            await Task.WhenAll(writers).WaitAsync(options.Timeout * 4).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Writes still in flight are abandoned: the tier is a cache.
        }

        await store.DisposeAsync().ConfigureAwait(false);
    }

    private void Count(ReadOutcome outcome, int bytes)
    {
        if (outcome == ReadOutcome.Hit)
        {
            Metrics.Hit(bytes);
        }
        else
        {
            Metrics.Miss();
        }
    }

    private async ValueTask<ReadOutcome> TryReadAsync(string key, byte[] hash, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var failed = false;
        var header = new byte[SharedBlockValue.HeaderSize];
        StoredValue value;
        await readSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The timeout is cooperative: when the guard returns, the store has stopped writing into destination.
            value = await GuardAsync(
                async token => await store.ReadIntoAsync(key, header, destination, SharedBlockValue.ValueLength(destination.Length), token).ConfigureAwait(false),
                StoredValue.Absent,
                TransferTimeout(destination.Length),
                cancellationToken,
                () => failed = true).ConfigureAwait(false);
        }
        finally
        {
            readSlots.Release();
        }

        if (value.Kind == StoredValueKind.Absent)
        {
            return failed ? ReadOutcome.Failed : ReadOutcome.Absent;
        }

        if (!IsValid(value, header, hash, destination))
        {
            Metrics.Corrupt();
            LogCorrupt(logger, key);
            return ReadOutcome.Absent;
        }

        return ReadOutcome.Hit;
    }

    /// <summary>Checks a value read in place, or checks a whole one and copies its block into <paramref name="destination"/>.</summary>
    private static bool IsValid(StoredValue value, byte[] header, byte[] hash, Memory<byte> destination)
    {
        if (value.Value is not { } whole)
        {
            return SharedBlockValue.TryCheck(header, destination.Span, hash);
        }

        using (whole)
        {
            if (!SharedBlockValue.TryRead(whole.Memory.Span, hash, destination.Length, out var payload))
            {
                return false;
            }

            payload.CopyTo(destination.Span);
            return true;
        }
    }

    /// <summary>
    /// A read of a value up to <paramref name="bytes"/> long: the call's own time plus its transfer at the slowest rate
    /// still working, or as long as the remote would take for it right now when that is longer.
    /// </summary>
    private TimeSpan TransferTimeout(int bytes)
    {
        var working = options.Timeout.TotalSeconds + (double)bytes / SlowestTransferBytesPerSecond;
        var remote = bytes * Volatile.Read(ref remoteSecondsPerByte);
        return TimeSpan.FromSeconds(Math.Max(working, remote));
    }

    public void ObserveRemoteRead(long bytes, TimeSpan elapsed)
    {
        if (bytes <= 0)
        {
            return;
        }

        // A moving average over about the last eight reads; a lost update between racing readers costs one sample.
        var sample = elapsed.TotalSeconds / bytes;
        var previous = Volatile.Read(ref remoteSecondsPerByte);
        Volatile.Write(ref remoteSecondsPerByte, previous == 0 ? sample : previous + ((sample - previous) / 8));
    }

    /// <summary>
    /// A write is off every reader's path, and the waiters for its block are better served by a slow write than by a
    /// dropped one (each would fetch the block from the remote): it may take up to a lease time, at least a transfer.
    /// </summary>
    private TimeSpan WriteTimeout(int bytes) => TimeSpan.FromTicks(Math.Max(options.Lease.Ticks, TransferTimeout(bytes).Ticks));

    /// <summary>Runs one engine call under the breaker and <paramref name="timeout"/>; any failure yields <paramref name="onFailure"/>.</summary>
    private async ValueTask<T> GuardAsync<T>(Func<CancellationToken, ValueTask<T>> call, T onFailure, TimeSpan timeout, CancellationToken cancellationToken, Action? failed = null)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(CallTimeout, timeout);
        try
        {
            return await pipeline.ExecuteAsync(static (context, call) => call(context.CancellationToken), context, call).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokenCircuitException)
        {
            failed?.Invoke();
            return onFailure;
        }
#pragma warning disable CA1031 // the tier is an optimisation: whatever the engine or client throws becomes a miss
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (e is TimeoutRejectedException)
            {
                Metrics.Timeout();
            }

            Metrics.Error();
            LogCallFailed(logger, e.GetType().Name, e.Message);
            failed?.Invoke();
            return onFailure;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task WriteLoopAsync()
    {
        // The block buffer this writer reads blocks back into. It is kept while the queue has work and goes back to the
        // pool when the queue runs dry. It is reused only after a write that completed: a call that failed or timed
        // out may still be sending from it, so then it is let go of instead.
        byte[]? readBackBuffer = null;
        await foreach (var write in writes.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var payload = write.Copy is { } copy ? copy.AsMemory(0, write.PayloadLength) : ReadBack(write, ref readBackBuffer);
            var sending = !payload.IsEmpty;
            var written = false;
            try
            {
                if (sending)
                {
                    var header = new byte[SharedBlockValue.HeaderSize];
                    SharedBlockValue.WriteHeader(header, write.Hash, payload.Span);
                    written = await GuardAsync(
                        async token =>
                        {
                            await store.WriteFromAsync(write.Key, header, payload, token).ConfigureAwait(false);
                            return true;
                        },
                        false,
                        WriteTimeout(write.PayloadLength),
                        CancellationToken.None).ConfigureAwait(false);
                }

                if (written)
                {
                    Metrics.Filled(write.PayloadLength);
                    if (write.LeaseKey is not null)
                    {
                        // Filled: the waiters find the block at their next poll, and the lease runs out on its own.
                        heldLeases.TryRemove(write.LeaseKey, out _);
                    }
                }
                else
                {
                    Metrics.Dropped();
                    if (write.LeaseKey is not null)
                    {
                        LetGo(write.LeaseKey);
                    }
                }
            }
            finally
            {
                var reusable = written || !sending;
                if (write.Copy is { } sent)
                {
                    GiveBack(sent, reusable);
                }
                else if (readBackBuffer is not null && (!reusable || !writes.Reader.TryPeek(out _)))
                {
                    GiveBack(readBackBuffer, reusable);
                    readBackBuffer = null;
                }

                if (write.Reserved)
                {
                    Metrics.WriteDone();
                }
                else
                {
                    Metrics.DeferredDone();
                }
            }
        }

        if (readBackBuffer is not null)
        {
            BlockBuffers.Return(readBackBuffer);
        }
    }

    /// <summary>A block buffer back to the pool, or, when a write that did not complete may still send from it, to the collector.</summary>
    private static void GiveBack(byte[] buffer, bool reusable)
    {
        if (reusable)
        {
            BlockBuffers.Return(buffer);
        }
        else
        {
            BlockBuffers.LetGo(buffer);
        }
    }

    /// <summary>
    /// A deferred write's payload, read back from this pod's disk into <paramref name="buffer"/> (a block buffer, rented
    /// or grown when missing or too small); empty when the block is no longer there or cannot be read.
    /// </summary>
    private static Memory<byte> ReadBack(PendingWrite write, ref byte[]? buffer)
    {
        if (buffer is null || buffer.Length < write.PayloadLength)
        {
            if (buffer is not null)
            {
                BlockBuffers.Return(buffer);
            }

            buffer = BlockBuffers.Rent(write.PayloadLength);
        }

        var payload = buffer.AsMemory(0, write.PayloadLength);
        try
        {
            return write.ReadBack!(payload.Span) ? payload : Memory<byte>.Empty;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A block file that cannot be read is as gone as an evicted one: this write is dropped, the writer goes on.
            return Memory<byte>.Empty;
        }
    }

    private enum ReadOutcome
    {
        Absent,
        Hit,
        Failed,
    }

    /// <summary>
    /// A queued block: a <paramref name="Copy"/> of its payload in a block buffer, or null for a write whose payload
    /// <paramref name="ReadBack"/> reads from disk when a writer takes it. <paramref name="LeaseKey"/> is the fill lease
    /// this pod holds for it, renewed until the write lands and given back if it fails. <paramref name="Reserved"/>: it
    /// holds one of the <c>maxPendingWrites</c> places (a leased block past the bound is deferred without one).
    /// </summary>
    private readonly record struct PendingWrite(string Key, byte[] Hash, byte[]? Copy, int PayloadLength, string? LeaseKey, BlockReadBack? ReadBack, bool Reserved);

    [LoggerMessage(EventId = EventIds.SharedTierCorruptValue, Level = LogLevel.Warning, Message = "Shared tier: value under {Key} failed its header check (magic, length, CRC32C or identity); treated as a miss and overwritten by the next fill")]
    private static partial void LogCorrupt(ILogger logger, string key);

    [LoggerMessage(EventId = EventIds.SharedTierCallFailed, Level = LogLevel.Debug, Message = "Shared tier call failed ({Kind}): {Reason}; treated as a miss")]
    private static partial void LogCallFailed(ILogger logger, string kind, string reason);
}
