using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>A snapshot of the tier's counters (monotonic since start).</summary>
internal sealed record SharedTierCounters(
    long Hits,
    long Misses,
    long CorruptValues,
    long Fills,
    long LeaseWaits,
    long LeaseRenewals,
    long BytesRead,
    long BytesWritten,
    long Errors,
    long Timeouts,
    long DroppedWrites,
    long DeferredWrites,
    long PendingWrites);

/// <summary>The tier's instruments, updated lock-free; observed by the sidecar meter through <see cref="Register"/>.</summary>
internal sealed class SharedTierMetrics
{
    private long hits;
    private long misses;
    private long corruptValues;
    private long fills;
    private long leaseWaits;
    private long leaseRenewals;
    private long bytesRead;
    private long bytesWritten;
    private long errors;
    private long timeouts;
    private long droppedWrites;
    private long deferredWrites;
    private long pendingWrites;
    private long pendingDeferred;

    /// <summary>Copies of blocks queued for writing (what <c>maxPendingWrites</c> bounds).</summary>
    public long PendingWrites => Volatile.Read(ref pendingWrites);

    public void Hit(int bytes)
    {
        Interlocked.Increment(ref hits);
        Interlocked.Add(ref bytesRead, bytes);
    }

    public void Miss() => Interlocked.Increment(ref misses);

    public void Corrupt() => Interlocked.Increment(ref corruptValues);

    public void Filled(int bytes)
    {
        Interlocked.Increment(ref fills);
        Interlocked.Add(ref bytesWritten, bytes);
    }

    public void LeaseWait() => Interlocked.Increment(ref leaseWaits);

    public void LeaseRenewed() => Interlocked.Increment(ref leaseRenewals);

    public void Error() => Interlocked.Increment(ref errors);

    public void Timeout() => Interlocked.Increment(ref timeouts);

    public void Dropped() => Interlocked.Increment(ref droppedWrites);

    public void Deferred()
    {
        Interlocked.Increment(ref deferredWrites);
        Interlocked.Increment(ref pendingDeferred);
    }

    public void DeferredDone() => Interlocked.Decrement(ref pendingDeferred);

    /// <summary>Reserves a place for a block's copy in the write queue; false when <paramref name="limit"/> copies are queued.</summary>
    public bool TryReserveWrite(int limit)
    {
        if (Interlocked.Increment(ref pendingWrites) <= limit)
        {
            return true;
        }

        Interlocked.Decrement(ref pendingWrites);
        return false;
    }

    public void WriteDone() => Interlocked.Decrement(ref pendingWrites);

    public SharedTierCounters Snapshot() => new(
        Volatile.Read(ref hits),
        Volatile.Read(ref misses),
        Volatile.Read(ref corruptValues),
        Volatile.Read(ref fills),
        Volatile.Read(ref leaseWaits),
        Volatile.Read(ref leaseRenewals),
        Volatile.Read(ref bytesRead),
        Volatile.Read(ref bytesWritten),
        Volatile.Read(ref errors),
        Volatile.Read(ref timeouts),
        Volatile.Read(ref droppedWrites),
        Volatile.Read(ref deferredWrites),
        Volatile.Read(ref pendingWrites) + Volatile.Read(ref pendingDeferred));

    public static void Register(SidecarMeter meter, Func<SharedTierStatus> status)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(status);
        var m = meter.Meter;
        m.CreateObservableCounter("fluid_sidecar_shared_tier_hits_total", () => status().Counters.Hits, description: "Blocks read from the shared tier.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_misses_total", () => status().Counters.Misses, description: "Shared-tier reads that found no valid block (absent, corrupt, timed out, failed or breaker open).");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_corrupt_values_total", () => status().Counters.CorruptValues, description: "Shared-tier values refused by the header check (magic, length, CRC32C or identity); counted as misses too.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_fills_total", () => status().Counters.Fills, description: "Blocks written to the shared tier.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_lease_waits_total", () => status().Counters.LeaseWaits, description: "Reads that waited for another pod's fill of the same block.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_lease_renewals_total", () => status().Counters.LeaseRenewals, description: "Fill leases this pod renewed while its remote fetch of the block was still in flight.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_read_bytes_total", () => status().Counters.BytesRead, "By", "Block bytes read from the shared tier.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_written_bytes_total", () => status().Counters.BytesWritten, "By", "Block bytes written to the shared tier.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_errors_total", () => status().Counters.Errors, description: "Shared-tier calls that failed (timeouts included).");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_timeouts_total", () => status().Counters.Timeouts, description: "Shared-tier calls that took longer than timeoutMilliseconds.");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_dropped_writes_total", () => status().Counters.DroppedWrites, description: "Blocks not written to the shared tier (queue full or breaker open).");
        m.CreateObservableCounter("fluid_sidecar_shared_tier_deferred_writes_total", () => status().Counters.DeferredWrites, description: "Leased blocks queued past maxPendingWrites without their bytes, read back from the local disk when written.");
        m.CreateObservableGauge("fluid_sidecar_shared_tier_pending_writes", () => status().Counters.PendingWrites, description: "Blocks queued for writing to the shared tier (copies and deferred writes).");
        m.CreateObservableGauge("fluid_sidecar_shared_tier_connected", () => status().Connected ? 1 : 0, description: "1 when the shared tier's engine is reachable.");
        m.CreateObservableGauge(
            "fluid_sidecar_shared_tier_breaker_open",
            () => status().Breaker switch
            {
                SharedTierBreakerState.Open => 1,
                SharedTierBreakerState.HalfOpen => 0.5,
                _ => 0,
            },
            description: "Shared-tier breaker: 0 closed, 1 open (the tier is skipped), 0.5 half-open (probing).");
    }
}
