namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Which shared-tier blocks this cache has already handed to a reader in memory without keeping a local copy. The
/// first tier hit of a block is handed over and not written to the local disk: a pod that reads a block once (a
/// function loading its model at start) would pay for a copy nobody reads again, and growing the page cache is the
/// dearest part of a tier hit (bench/shared-cache/README.md). The second hit of the same block is stored: the pod
/// reads it again, so its own disk is the better place for it (nginx's <c>proxy_cache_min_uses 2</c>).
/// </summary>
/// <remarks>
/// A direct-mapped table of 64-bit key hashes: fixed memory (512 KiB, allocated at the first hand-over), no lock, and
/// no key kept alive. Two keys that share a slot only make a block stored on its first hit or handed over once more;
/// the table never decides which bytes are served. The hashes are per process (string hashing is randomized), which
/// is all an in-memory table needs.
/// </remarks>
internal sealed class TierHandOffs
{
    private const int SlotCount = 1 << 16;
    private long[]? _slots;

    /// <summary>True the first time <paramref name="key"/> is asked about (hand it over); false when it was handed over before (store it).</summary>
    public bool IsFirstHit(BlockKey key)
    {
        var slots = Volatile.Read(ref _slots) ?? InitializeSlots();
        var hash = HashOf(key);
        return Interlocked.Exchange(ref slots[(int)((ulong)hash % SlotCount)], hash) != hash;
    }

    private long[] InitializeSlots()
    {
        Interlocked.CompareExchange(ref _slots, new long[SlotCount], null);
        return _slots;
    }

    /// <summary>Two independent 32-bit combinations of the key's fields, never 0 (the empty slot).</summary>
    private static long HashOf(BlockKey key)
    {
        var high = (long)HashCode.Combine(key.SourceIdentity, key.ObjectKey, key.ETag, key.Index) << 32;
        var low = (uint)HashCode.Combine(key.Index, key.ETag, key.ObjectKey, key.SourceIdentity, SlotCount);
        return (high | low) == 0 ? 1 : high | low;
    }
}
