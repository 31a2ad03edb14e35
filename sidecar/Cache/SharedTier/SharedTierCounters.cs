using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>A snapshot of the tier's counters (monotonic since start).</summary>
internal sealed record SharedTierCounters(
    long Hits,
    long Misses,
    long CorruptValues,
    long Fills,
    long LeaseWaits,
    long BytesRead,
    long BytesWritten,
    long Errors,
    long Timeouts,
    long DroppedWrites,
    long PendingWrites);

/// <summary>The tier's instruments, updated lock-free; written to /metrics by <see cref="Write"/>.</summary>
internal sealed class SharedTierMetrics
{
    private long hits;
    private long misses;
    private long corruptValues;
    private long fills;
    private long leaseWaits;
    private long bytesRead;
    private long bytesWritten;
    private long errors;
    private long timeouts;
    private long droppedWrites;
    private long pendingWrites;

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

    public void Error() => Interlocked.Increment(ref errors);

    public void Timeout() => Interlocked.Increment(ref timeouts);

    public void Dropped() => Interlocked.Increment(ref droppedWrites);

    /// <summary>Reserves a place in the write queue; false (and counted as dropped) when <paramref name="limit"/> are queued.</summary>
    public bool TryReserveWrite(int limit)
    {
        if (Interlocked.Increment(ref pendingWrites) <= limit)
        {
            return true;
        }

        Interlocked.Decrement(ref pendingWrites);
        Dropped();
        return false;
    }

    public void WriteDone() => Interlocked.Decrement(ref pendingWrites);

    public SharedTierCounters Snapshot() => new(
        Volatile.Read(ref hits),
        Volatile.Read(ref misses),
        Volatile.Read(ref corruptValues),
        Volatile.Read(ref fills),
        Volatile.Read(ref leaseWaits),
        Volatile.Read(ref bytesRead),
        Volatile.Read(ref bytesWritten),
        Volatile.Read(ref errors),
        Volatile.Read(ref timeouts),
        Volatile.Read(ref droppedWrites),
        Volatile.Read(ref pendingWrites));

    public static void Write(MetricsWriter writer, SharedTierStatus status)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(status);
        var c = status.Counters;
        writer.Counter("fluid_sidecar_shared_tier_hits_total", "Blocks read from the shared tier.", c.Hits);
        writer.Counter("fluid_sidecar_shared_tier_misses_total", "Shared-tier reads that found no valid block (absent, corrupt, timed out, failed or breaker open).", c.Misses);
        writer.Counter("fluid_sidecar_shared_tier_corrupt_values_total", "Shared-tier values refused by the header check (magic, length, CRC32C or identity); counted as misses too.", c.CorruptValues);
        writer.Counter("fluid_sidecar_shared_tier_fills_total", "Blocks written to the shared tier.", c.Fills);
        writer.Counter("fluid_sidecar_shared_tier_lease_waits_total", "Reads that waited for another pod's fill of the same block.", c.LeaseWaits);
        writer.Counter("fluid_sidecar_shared_tier_read_bytes_total", "Block bytes read from the shared tier.", c.BytesRead);
        writer.Counter("fluid_sidecar_shared_tier_written_bytes_total", "Block bytes written to the shared tier.", c.BytesWritten);
        writer.Counter("fluid_sidecar_shared_tier_errors_total", "Shared-tier calls that failed (timeouts included).", c.Errors);
        writer.Counter("fluid_sidecar_shared_tier_timeouts_total", "Shared-tier calls that took longer than timeoutMilliseconds.", c.Timeouts);
        writer.Counter("fluid_sidecar_shared_tier_dropped_writes_total", "Blocks not written to the shared tier (queue full or breaker open).", c.DroppedWrites);
        writer.Gauge("fluid_sidecar_shared_tier_pending_writes", "Blocks queued for writing to the shared tier.", c.PendingWrites);
        writer.Gauge("fluid_sidecar_shared_tier_connected", "1 when the shared tier's engine is reachable.", status.Connected ? 1 : 0);
        writer.Gauge("fluid_sidecar_shared_tier_breaker_open", "Shared-tier breaker: 0 closed, 1 open (the tier is skipped), 0.5 half-open (probing).", status.Breaker switch
        {
            SharedTierBreakerState.Open => 1,
            SharedTierBreakerState.HalfOpen => 0.5,
            _ => 0,
        });
    }
}
