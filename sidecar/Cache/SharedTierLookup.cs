using Fluid.Serverless.Sidecar.Cache.SharedTier;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The shared tier as the fetch seam sees it: a block's content identity (the remote's identity, the object key, its
/// ETag, the block size and index), a probe that ends in a hit, a fetch of our own or a wait for another pod's fill
/// (cluster-wide single flight through the tier's fill lease), and the write-around of a block fetched from the remote.
/// The tier never throws to the reader (cancellation of the cache's lifetime aside), so neither does this.
/// </summary>
internal sealed class SharedTierLookup(ISharedBlockTier tier, int blockSize)
{
    private long _hits;

    /// <summary>Blocks this cache took from the tier instead of the remote.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    public SharedBlockId IdOf(BlockKey key) => new(key.SourceIdentity, key.ObjectKey, key.ETag, blockSize, key.Index);

    /// <summary>
    /// One tier read, then (on a miss) one lease attempt: <see cref="TierProbe.Hit"/> = <paramref name="destination"/>
    /// holds the block; <see cref="TierProbe.Wait"/> = another pod is fetching it; <see cref="TierProbe.Fetch"/> = fetch it
    /// from the remote (lease acquired, or no lease to be had).
    /// </summary>
    public async ValueTask<TierProbe> ProbeAsync(BlockKey key, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var id = IdOf(key);
        if (await tier.TryGetAsync(id, destination, cancellationToken))
        {
            Interlocked.Increment(ref _hits);
            return TierProbe.Hit;
        }

        return await tier.TryAcquireFillLeaseAsync(id, cancellationToken) == FillLease.HeldElsewhere ? TierProbe.Wait : TierProbe.Fetch;
    }

    /// <summary>Waits (at most the lease time) for another pod's fill; false = fetch it from the remote.</summary>
    public async ValueTask<bool> WaitForFillAsync(BlockKey key, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (!await tier.WaitForFillAsync(IdOf(key), destination, cancellationToken))
        {
            return false;
        }

        Interlocked.Increment(ref _hits);
        return true;
    }

    /// <summary>True when a wait for <paramref name="key"/> that came back empty ended with this pod taking its lease over.</summary>
    public bool TookLeaseOver(BlockKey key) => tier.HoldsFillLease(IdOf(key));

    /// <summary>Probe and, when another pod holds the lease, its fill: true = <paramref name="destination"/> holds the block.</summary>
    public async ValueTask<bool> TryFillAsync(BlockKey key, Memory<byte> destination, CancellationToken cancellationToken) =>
        await ProbeAsync(key, destination, cancellationToken) switch
        {
            TierProbe.Hit => true,
            TierProbe.Wait => await WaitForFillAsync(key, destination, cancellationToken),
            _ => false,
        };

    /// <summary>
    /// Queues a block fetched from the remote for the other pods; copies (or, past the copy bound, reads it back later
    /// through <paramref name="readBack"/>), never waits.
    /// </summary>
    public void Put(BlockKey key, ReadOnlyMemory<byte> block, BlockReadBack? readBack = null) => tier.Put(IdOf(key), block, readBack);

    /// <summary>A remote read of <paramref name="bytes"/> that took <paramref name="elapsed"/>: the pace a tier read is judged by.</summary>
    public void ObserveRemote(long bytes, TimeSpan elapsed) => tier.ObserveRemoteRead(bytes, elapsed);

    /// <summary>A block this pod will not deliver (its remote fetch failed): its fill lease, if held, goes to a waiter.</summary>
    public void Abandon(BlockKey key) => tier.AbandonFillLease(IdOf(key));
}

internal enum TierProbe
{
    Fetch,
    Hit,
    Wait,
}
