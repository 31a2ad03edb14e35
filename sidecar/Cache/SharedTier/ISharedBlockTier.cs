namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// The shared block tier behind the local block cache (Fluid's Runtime): read order local cache → tier → remote. Every
/// member reports its outcome and never throws to a reader (cancellation of the caller's own token aside): a tier that
/// is slow, down or corrupt shows up as a miss, and the read goes to the remote.
/// </summary>
internal interface ISharedBlockTier
{
    /// <summary>
    /// Fills <paramref name="destination"/> with the block and returns true when the tier holds a valid copy of exactly
    /// <c>destination.Length</c> bytes; false on a miss, a corrupt or short value, a timeout or an open breaker.
    /// </summary>
    ValueTask<bool> TryGetAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>
    /// Queues the block for writing to the tier and returns at once (write-around, off the reader's critical path). The
    /// bytes are copied before this returns, so the caller may reuse <paramref name="block"/>. Past
    /// <c>maxPendingWrites</c> queued copies, a block whose fill lease this pod holds is queued without its bytes when
    /// <paramref name="readBack"/> can read it again later (from the local disk); any other block is dropped and
    /// counted, as are all blocks while the engine is not connected or the breaker is open. When this pod holds the
    /// block's fill lease and the write is dropped or fails, the lease is given back for a waiter.
    /// </summary>
    void Put(SharedBlockId id, ReadOnlyMemory<byte> block, BlockReadBack? readBack = null);

    /// <summary>
    /// Gives back the fill lease of a block this pod will not write (its remote fetch failed), so a waiting pod takes
    /// the lease over at its next poll instead of waiting out the lease time. No-op when this pod holds no such lease.
    /// </summary>
    void AbandonFillLease(SharedBlockId id);

    /// <summary>
    /// Cluster-wide single flight: <see cref="FillLease.Acquired"/> = this pod fetches the block from the remote and
    /// <see cref="Put"/>s it; <see cref="FillLease.HeldElsewhere"/> = another pod is fetching it, call
    /// <see cref="WaitForFillAsync"/>; <see cref="FillLease.Unavailable"/> = no lease (tier down, or an engine without
    /// conditional writes): fetch it yourself.
    /// </summary>
    ValueTask<FillLease> TryAcquireFillLeaseAsync(SharedBlockId id, CancellationToken cancellationToken);

    /// <summary>
    /// Polls the tier with bounded backoff until the block appears (true, <paramref name="destination"/> filled), the
    /// lease becomes free and this pod takes it over (false: fetch it yourself, as the new holder), or the lease time
    /// has passed (false).
    /// </summary>
    ValueTask<bool> WaitForFillAsync(SharedBlockId id, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>
    /// True while this pod holds the block's fill lease: after a <see cref="WaitForFillAsync"/> that returned false, it
    /// tells a takeover (the holder gave the lease back; fetch this block and keep waiting for its others) from a wait
    /// that gave up (the holder is not delivering).
    /// </summary>
    bool HoldsFillLease(SharedBlockId id);

    /// <summary>
    /// A read from the remote of <paramref name="bytes"/> that took <paramref name="elapsed"/>. The tier is slow when it
    /// is slower than the remote: a block read from it may take as long as the remote takes for a block before it
    /// counts as failing, so a tier that is merely as loaded as everything else is not skipped for the remote.
    /// </summary>
    void ObserveRemoteRead(long bytes, TimeSpan elapsed);

    /// <summary>For /status and /metrics.</summary>
    SharedTierStatus GetStatus();
}

/// <summary>Reads a block's payload again into <paramref name="destination"/> (its exact length); false when it is gone.</summary>
internal delegate bool BlockReadBack(Span<byte> destination);

internal enum FillLease
{
    Unavailable,
    Acquired,
    HeldElsewhere,
}

internal enum SharedTierBreakerState
{
    Closed,
    Open,
    HalfOpen,
}

internal sealed record SharedTierStatus(string Engine, bool Connected, SharedTierBreakerState Breaker, SharedTierCounters Counters);
