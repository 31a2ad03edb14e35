namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Which shared-tier blocks this cache has already handed to a reader in memory without keeping a local copy. The
/// first tier hit of a block is handed over and not written to the local disk: a pod that reads a block once (a
/// function loading its model at start) would pay for a copy nobody reads again, and growing the page cache is the
/// dearest part of a tier hit (bench/shared-cache/README.md). The second hit of the same block is stored: the pod
/// reads it again, so its own disk is the better place for it (nginx's <c>proxy_cache_min_uses 2</c>).
/// </summary>
/// <remarks>
/// 16 Ki buckets of four 64-bit key hashes: fixed memory (512 KiB, allocated at the first hand-over), no lock, and no
/// key kept alive. A key is looked for in its bucket's four entries and, when absent, written into an empty entry or
/// over one the key's hash picks. Buckets, not one entry per slot: two keys read together that shared a single entry
/// would overwrite each other at every read, so both would be handed over every time and never stored (a 1 GiB
/// object's 256 blocks share one about half the time in 64 Ki slots). A bucket of four overflows only when five
/// blocks in use share it. A lost entry (a full bucket, or two threads writing the same one) only makes a block handed
/// over once more; the table never decides which bytes are served. The hashes are per process (string hashing is
/// randomized), which is all an in-memory table needs.
/// </remarks>
internal sealed class TierHandOffs
{
    private const int BucketCount = 1 << 14;
    private const int EntriesPerBucket = 4;
    private long[]? _entries;

    /// <summary>True the first time <paramref name="key"/> is asked about (hand it over); false when it was handed over before (store it).</summary>
    public bool IsFirstHit(BlockKey key)
    {
        var entries = Volatile.Read(ref _entries) ?? InitializeEntries();
        var hash = HashOf(key);
        var bucket = entries.AsSpan((int)((ulong)hash % BucketCount) * EntriesPerBucket, EntriesPerBucket);
        var empty = -1;
        for (var i = 0; i < EntriesPerBucket; i++)
        {
            var entry = Volatile.Read(ref bucket[i]);
            if (entry == hash)
            {
                return false;
            }

            if (entry == 0 && empty < 0)
            {
                empty = i;
            }
        }

        Volatile.Write(ref bucket[empty >= 0 ? empty : (int)((ulong)hash >> 60) % EntriesPerBucket], hash);
        return true;
    }

    private long[] InitializeEntries()
    {
        Interlocked.CompareExchange(ref _entries, new long[BucketCount * EntriesPerBucket], null);
        return _entries;
    }

    /// <summary>Two independent 32-bit combinations of the key's fields, never 0 (the empty entry).</summary>
    private static long HashOf(BlockKey key)
    {
        var high = (long)HashCode.Combine(key.SourceIdentity, key.ObjectKey, key.ETag, key.Index) << 32;
        var low = (uint)HashCode.Combine(key.Index, key.ETag, key.ObjectKey, key.SourceIdentity, BucketCount);
        return (high | low) == 0 ? 1 : high | low;
    }
}
