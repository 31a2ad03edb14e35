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
/// poll instead of waiting out the lease time.
/// </summary>
internal sealed partial class GuardedSharedBlockTier : ISharedBlockTier, IAsyncDisposable
{
    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPoll = TimeSpan.FromMilliseconds(200);

    private readonly ISharedTierStore store;
    private readonly SharedTierOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly ResiliencePipeline pipeline;
    private readonly CircuitBreakerStateProvider breakerState = new();
    private readonly Channel<PendingWrite> writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] writers;
    private readonly byte[] leaseOwner = Guid.NewGuid().ToByteArray();

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
            .AddTimeout(new TimeoutStrategyOptions { Timeout = options.Timeout })
            .Build();
        writers = new Task[Math.Max(1, options.WriterConcurrency)];
        for (var i = 0; i < writers.Length; i++)
        {
            writers[i] = Task.Run(WriteLoopAsync);
        }
    }

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

    public void Put(SharedBlockId id, ReadOnlyMemory<byte> block)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var leaseKey = SharedTierKeys.Lease(options.Prefix, hash);
        var holdsLease = heldLeases.TryRemove(leaseKey, out _);

        // Nothing to write to: a client still connecting, an engine that went away, or a breaker that is open. Waiters
        // for a lease we hold find the tier failing too and stop waiting at once.
        if (!store.IsConnected || BreakerState == SharedTierBreakerState.Open)
        {
            Metrics.Dropped();
            return;
        }

        // The queue bound keeps memory in check (a remote faster than the tier would otherwise queue whole objects). A
        // leased block dropped here gives its lease back, so a waiting pod takes it over at its next poll instead of
        // waiting out the lease time.
        if (!Metrics.TryReserveWrite(options.MaxPendingWrites))
        {
            if (holdsLease)
            {
                _ = ReleaseLeaseAsync(leaseKey);
            }

            return;
        }

        var length = SharedBlockValue.ValueLength(block.Length);
        // Exactly the value's size, not a pooled array: the shared pool rounds a block plus its header up to the next
        // power of two (8 MiB for a 4 MiB block), which doubled the memory of a full write queue.
        var buffer = GC.AllocateUninitializedArray<byte>(length);
        SharedBlockValue.Write(buffer, hash, block.Span);
        if (!writes.Writer.TryWrite(new PendingWrite(SharedTierKeys.Block(options.Prefix, hash), buffer, length, block.Length, holdsLease ? leaseKey : null)))
        {
            // Only after disposal.
            Metrics.WriteDone();
            Metrics.Dropped();
        }
    }

    public void AbandonFillLease(SharedBlockId id)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var leaseKey = SharedTierKeys.Lease(options.Prefix, hash);
        if (heldLeases.TryRemove(leaseKey, out _))
        {
            _ = ReleaseLeaseAsync(leaseKey);
        }
    }

    public async ValueTask<FillLease> TryAcquireFillLeaseAsync(SharedBlockId id, CancellationToken cancellationToken)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        return await TryTakeLeaseAsync(SharedTierKeys.Lease(options.Prefix, hash), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<FillLease> TryTakeLeaseAsync(string leaseKey, CancellationToken cancellationToken)
    {
        var created = await GuardAsync(
            async token => await store.TryCreateAsync(leaseKey, leaseOwner, options.Lease, token).ConfigureAwait(false),
            (bool?)null,
            cancellationToken).ConfigureAwait(false);
        if (created == true)
        {
            ForgetExpiredLeases();
            heldLeases[leaseKey] = timeProvider.GetTimestamp();
        }

        return created switch
        {
            true => FillLease.Acquired,
            false => FillLease.HeldElsewhere,
            null => FillLease.Unavailable,
        };
    }

    /// <summary>
    /// A lease neither written nor given back (a fetch whose caller went away) has expired at the engine by now; drop it
    /// here too so the table stays as small as the fetches in flight.
    /// </summary>
    private void ForgetExpiredLeases()
    {
        if (heldLeases.Count < 256)
        {
            return;
        }

        foreach (var (key, taken) in heldLeases)
        {
            if (timeProvider.GetElapsedTime(taken) > options.Lease)
            {
                heldLeases.TryRemove(key, out _);
            }
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
            if (found is ReadOutcome.Hit or ReadOutcome.Failed || waited + pause > options.Lease)
            {
                // A failing tier ends the wait at once: the holder's fill would not reach us either.
                Count(found, destination.Length);
                return found == ReadOutcome.Hit;
            }

            // The holder gave its lease back (its fetch or write failed) or it expired: the first waiter to take it
            // over fetches the block for everyone, and the others go on waiting for that fill.
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
        var value = await GuardAsync(
            async token => await store.GetAsync(key, SharedBlockValue.ValueLength(destination.Length), token).ConfigureAwait(false),
            null,
            cancellationToken,
            () => failed = true).ConfigureAwait(false);
        if (value is null)
        {
            return failed ? ReadOutcome.Failed : ReadOutcome.Absent;
        }

        using (value)
        {
            if (!SharedBlockValue.TryRead(value.Memory.Span, hash, destination.Length, out var payload))
            {
                Metrics.Corrupt();
                LogCorrupt(logger, key);
                return ReadOutcome.Absent;
            }

            payload.CopyTo(destination.Span);
            return ReadOutcome.Hit;
        }
    }

    /// <summary>Runs one engine call under the breaker and timeout; any failure yields <paramref name="onFailure"/>.</summary>
    private async ValueTask<T> GuardAsync<T>(Func<CancellationToken, ValueTask<T>> call, T onFailure, CancellationToken cancellationToken, Action? failed = null)
    {
        try
        {
            return await pipeline.ExecuteAsync(call, cancellationToken).ConfigureAwait(false);
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
    }

    private async Task WriteLoopAsync()
    {
        await foreach (var write in writes.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                var written = await GuardAsync(
                    async token =>
                    {
                        await store.SetAsync(write.Key, write.Buffer.AsMemory(0, write.Length), token).ConfigureAwait(false);
                        return true;
                    },
                    false,
                    CancellationToken.None).ConfigureAwait(false);
                if (written)
                {
                    Metrics.Filled(write.PayloadLength);
                }
                else
                {
                    Metrics.Dropped();
                    if (write.LeaseKey is not null)
                    {
                        await ReleaseLeaseAsync(write.LeaseKey).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                Metrics.WriteDone();
            }
        }
    }

    private enum ReadOutcome
    {
        Absent,
        Hit,
        Failed,
    }

    /// <summary>A queued block; <paramref name="LeaseKey"/> is the fill lease this pod holds for it, given back if the write fails.</summary>
    private readonly record struct PendingWrite(string Key, byte[] Buffer, int Length, int PayloadLength, string? LeaseKey);

    [LoggerMessage(EventId = EventIds.SharedTierCorruptValue, Level = LogLevel.Warning, Message = "Shared tier: value under {Key} failed its header check (magic, length, CRC32C or identity); treated as a miss and overwritten by the next fill")]
    private static partial void LogCorrupt(ILogger logger, string key);

    [LoggerMessage(EventId = EventIds.SharedTierCallFailed, Level = LogLevel.Debug, Message = "Shared tier call failed ({Kind}): {Reason}; treated as a miss")]
    private static partial void LogCallFailed(ILogger logger, string kind, string reason);
}
