using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Identity of one fixed-size block: (source, key, ETag/version, index). A new version of an object, or the same
/// key on another source, is a different block.
/// </summary>
internal readonly record struct BlockKey(string SourceIdentity, string ObjectKey, string ETag, long Index);

/// <summary>Who asks for a block: on-demand reads go before read-ahead, which goes before prefetch.</summary>
internal enum BlockPriority
{
    OnDemand = 0,
    ReadAhead = 1,
    Prefetch = 2,
}

/// <summary>
/// The one disk block cache behind every view (S3 endpoint, FUSE, copy, prefetch). Blocks carry a CRC checked on
/// read, are written to a temp file and renamed, survive restarts, and are evicted LRU under a byte quota and a
/// free-space floor. Concurrent misses of one block cause one fetch (single-flight).
/// </summary>
internal interface IBlockCache
{
    int BlockSize { get; }

    /// <summary>
    /// The block's bytes: from disk when present and intact, else fetched through <paramref name="fetch"/>
    /// (which must fill the whole buffer it is given, of <paramref name="length"/> bytes) and stored.
    /// A full disk degrades to pass-through: the bytes are returned but not stored.
    /// The caller disposes the lease to return its buffer.
    /// </summary>
    ValueTask<BlockLease> GetAsync(
        BlockKey key,
        int length,
        Func<Memory<byte>, CancellationToken, ValueTask> fetch,
        BlockPriority priority,
        CancellationToken cancellationToken);

    /// <summary>
    /// Bytes [<paramref name="offset"/>, offset+<paramref name="count"/>) of a block of <paramref name="blockLength"/>
    /// bytes when it is on disk and intact, reading and CRC-checking only the chunks that hold them (a small range
    /// read of a big block costs a small disk read); null on a miss, with nothing fetched (then use GetAsync).
    /// The default (for caches without sub-block reads) always answers null. <paramref name="continuation"/> marks
    /// a further piece of a block the caller already read (not counted as another hit).
    /// </summary>
    BlockLease? TryReadCached(BlockKey key, int blockLength, int offset, int count, bool continuation = false) => null;

    /// <summary>
    /// <see cref="TryReadCached"/> into the caller's memory (a response body's pipe): true when all of
    /// <paramref name="destination"/> was filled with intact bytes from offset <paramref name="offset"/> of the block;
    /// false on a miss, when <paramref name="destination"/> may hold anything. The default always answers false.
    /// </summary>
    bool TryReadCachedInto(BlockKey key, int blockLength, int offset, Span<byte> destination, bool continuation = false) => false;

    /// <summary>
    /// Makes blocks [<paramref name="first"/>.Index, +<paramref name="count"/>) of one object cached, fetching each
    /// maximal run of them that is neither on disk nor already in flight with ONE call of
    /// <paramref name="fetchRun"/> (one ranged GET, see <see cref="IObjectSource.ReadIntoAsync"/>). Every block is
    /// CRC'd, stored and its single-flight waiters released as soon as its own bytes have arrived. A block already
    /// in flight elsewhere is not fetched again. Returns one task per block, completed when that block is stored (or
    /// passed through) and faulted when its fetch failed; the fetch itself runs under the cache's lifetime. Every
    /// block but the last is full; the last has <paramref name="lastBlockLength"/> bytes.
    /// The default fetches block by block through <see cref="GetAsync"/>.
    /// </summary>
    IReadOnlyList<Task> FetchRun(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
    {
        ArgumentNullException.ThrowIfNull(fetchRun);
        var tasks = new Task[count];
        for (var i = 0; i < count; i++)
        {
            var key = first with { Index = first.Index + i };
            var offset = key.Index * (long)BlockSize;
            var length = i == count - 1 ? lastBlockLength : BlockSize;
            tasks[i] = Contains(key)
                ? Task.CompletedTask
                : FetchAndReleaseAsync(GetAsync(key, length, (destination, ct) => fetchRun(new MemoryRangeSink(offset, destination), ct), priority, CancellationToken.None));
        }

        return tasks;

        static async Task FetchAndReleaseAsync(ValueTask<BlockLease> lease) => (await lease).Dispose();
    }

    /// <summary>
    /// <see cref="FetchRun"/> for one reader that takes the run's blocks in order as they come (an S3 GET's writer): a
    /// block the shared tier answers may be handed to that reader in memory instead of being written to the local disk
    /// (see README.md, "Tier hits handed to the reader"). Each task ends with that block's lease, which the caller
    /// disposes as soon as it has copied the bytes out (the run reads no further block from the tier until then), or
    /// with null when the block was stored (read it from disk) or is being fetched elsewhere; faulted as
    /// <see cref="FetchRun"/>'s. A caller that gives up disposes every lease still to come. The default hands nothing over.
    /// </summary>
    IReadOnlyList<Task<BlockLease?>> FetchRunInOrder(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
    {
        var stored = FetchRun(first, count, lastBlockLength, fetchRun, priority);
        var handed = new Task<BlockLease?>[stored.Count];
        for (var i = 0; i < handed.Length; i++)
        {
            handed[i] = NothingHandedAsync(stored[i]);
        }

        return handed;

        static async Task<BlockLease?> NothingHandedAsync(Task stored)
        {
            await stored;
            return null;
        }
    }

    /// <summary>True when the block is on disk (no remote traffic would be needed).</summary>
    bool Contains(BlockKey key);

    /// <summary>Drops every cached block of one object of one source (after a write or delete through the sidecar).</summary>
    void Invalidate(string sourceIdentity, string objectKey);

    CacheStatistics GetStatistics();
}

/// <summary>Figures for /status and /metrics.</summary>
internal sealed record CacheStatistics(
    long Blocks,
    long UsedBytes,
    long QuotaBytes,
    long Hits,
    long Misses,
    long Evictions,
    long CorruptBlocksDropped,
    long PassThroughFills,
    bool IndexLoaded)
{
    /// <summary>Blocks fetched from the remote (one per single-flight, however many readers waited on it).</summary>
    public long RemoteFetches { get; init; }

    /// <summary>Bytes fetched from the remote into the cache.</summary>
    public long RemoteBytes { get; init; }

    /// <summary>Misses that joined a fetch already in flight instead of starting their own.</summary>
    public long SingleFlightJoins { get; init; }

    /// <summary>Remote requests made for blocks: a run of adjacent blocks fetched with one ranged GET counts once.</summary>
    public long RemoteRequests { get; init; }

    /// <summary>Blocks missing on disk that came from the shared tier instead of the remote.</summary>
    public long SharedTierHits { get; init; }

    /// <summary>Of those, blocks handed to a reader in memory and not stored locally (their first hit in this cache).</summary>
    public long SharedTierHandedOver { get; init; }

    /// <summary>Block files kept open between hits: descriptors the cache holds.</summary>
    public int OpenBlockFiles { get; init; }
}

/// <summary>A block's bytes in a pooled buffer; dispose to return it.</summary>
internal sealed class BlockLease : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;
    private readonly BlockEntry? _pinned;
    private readonly BlockFlight? _flight;

    public BlockLease(byte[] buffer, int length, bool fromCache)
    {
        _buffer = buffer;
        _length = length;
        FromCache = fromCache;
    }

    /// <summary>A lease that keeps <paramref name="pinned"/> from eviction until it is disposed.</summary>
    internal BlockLease(byte[] buffer, int length, bool fromCache, BlockEntry? pinned)
        : this(buffer, length, fromCache)
    {
        _pinned = pinned;
    }

    /// <summary>A lease on a flight's own buffer (a block handed over without a copy): disposing it leaves the flight.</summary>
    internal BlockLease(byte[] buffer, int length, BlockFlight flight)
        : this(buffer, length, fromCache: false)
    {
        _flight = flight;
    }

    /// <summary>True when the bytes came from disk, false when they were fetched from the remote.</summary>
    public bool FromCache { get; }

    public ReadOnlyMemory<byte> Memory => _buffer is { } b ? b.AsMemory(0, _length) : throw new ObjectDisposedException(nameof(BlockLease));

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is null)
        {
            return;
        }

        if (_flight is not null)
        {
            _flight.Leave();
            return;
        }

        _pinned?.Unpin();
        BlockBuffers.Return(buffer);
    }
}
