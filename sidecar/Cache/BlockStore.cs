using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The blocks this cache holds: leases read from disk (pinned while held, so eviction skips them), stores of fetched
/// blocks (room made by <see cref="BlockEviction"/>, written by <see cref="BlockFileStore"/>), invalidation, and
/// pass-through whenever a block cannot be kept. Before the start-up scan has indexed the disk, a file the index
/// has not seen yet may still be a valid block: it is read, and indexed on the way.
/// </summary>
internal sealed partial class BlockStore
{
    private readonly BlockIndex _index;
    private readonly BlockFileStore _files;
    private readonly BlockEviction _eviction;
    private readonly ILogger _logger;
    private volatile bool _indexLoaded;
    private long _passThroughFills;

    /// <param name="diskUsable">False when the directory could not be created: every block passes through.</param>
    public BlockStore(BlockIndex index, BlockFileStore files, BlockEviction eviction, bool diskUsable, ILogger logger)
    {
        _index = index;
        _files = files;
        _eviction = eviction;
        DiskUsable = diskUsable;
        _logger = logger;
    }

    public bool DiskUsable { get; }

    /// <summary>True once the start-up scan has finished (or failed): from then on the index alone says what is on disk.</summary>
    public bool IndexLoaded => _indexLoaded;

    public long PassThroughFills => Interlocked.Read(ref _passThroughFills);

    public string PathOf(BlockKey key) => _files.PathOf(key);

    /// <summary>Ends the start-up phase: files the index has not seen are no longer looked for.</summary>
    public void CompleteIndexLoad()
    {
        // Index first: from here on a read that started before cannot add a file the scan did not keep.
        _index.CompleteLoad();
        _indexLoaded = true;
    }

    public bool Contains(BlockKey key) =>
        _index.Contains(key) || (!_indexLoaded && DiskUsable && !_index.IsInvalidatedWhileLoading(key) && File.Exists(_files.PathOf(key)));

    /// <summary>True when a file for <paramref name="key"/> is worth trying to read (indexed, or the scan is still running).</summary>
    public bool MayBeOnDisk(BlockKey key) => DiskUsable && (_index.Contains(key) || MayBeUnindexedOnDisk(key));

    /// <summary>Reads a whole block into <paramref name="destination"/>, for a flight that may find it stored just before it began.</summary>
    public bool TryReadInto(BlockKey key, string path, Span<byte> destination) =>
        _files.Read(key, path, destination.Length, 0, destination, entry: null) == BlockFileRead.Read;

    /// <summary>
    /// Bytes [offset, offset+count) of a block of <paramref name="blockLength"/> bytes, when on disk and intact. A
    /// null <paramref name="path"/> is derived from the key only if the file has to be opened (a hit on a block
    /// file kept open needs no path).
    /// </summary>
    public BlockLease? TryReadLease(BlockKey key, string? path, int blockLength, int offset, int count)
    {
        var buffer = BlockBuffers.Rent(count);
        if (ReadPinned(key, path, blockLength, offset, buffer.AsSpan(0, count)) is { } entry)
        {
            return new BlockLease(buffer, count, fromCache: true, entry);
        }

        BlockBuffers.Return(buffer);
        return null;
    }

    /// <summary>
    /// Reads bytes [offset, offset + destination.Length) of a cached block into <paramref name="destination"/>
    /// (CRC-checked); false on a miss. The block is pinned only while it is read.
    /// </summary>
    public bool TryReadInto(BlockKey key, string? path, int blockLength, int offset, Span<byte> destination)
    {
        var entry = ReadPinned(key, path, blockLength, offset, destination);
        entry?.Unpin();
        return entry is not null;
    }

    /// <summary>The block's entry, pinned, when its bytes were read intact into <paramref name="destination"/>; else null.</summary>
    private BlockEntry? ReadPinned(BlockKey key, string? path, int blockLength, int offset, Span<byte> destination)
    {
        var entry = _index.TouchAndPin(key);
        if (entry is null && !(DiskUsable && MayBeUnindexedOnDisk(key)))
        {
            return null;
        }

        if (_files.Read(key, path, blockLength, offset, destination, entry) != BlockFileRead.Read)
        {
            entry?.Unpin();
            return null;
        }

        if (entry is null)
        {
            // Read before the scan reached this file: index it now (the scan will find it already there). Refused
            // when the object was invalidated while this read ran: those bytes are of a version no longer served.
            entry = _index.AddReadBeforeLoad(new BlockEntry(key, BlockFileStore.FileBytes(key, blockLength)));
            if (entry is null)
            {
                _files.DeleteIfUnindexed(key, path ?? _files.PathOf(key));
                return null;
            }

            entry.Pin();
        }

        return entry;
    }

    /// <summary>Stores a fetched block; any reason it cannot (quota, free-space floor, I/O error, a key too long for a header) means pass-through.</summary>
    public void Store(BlockKey key, string path, ReadOnlySpan<byte> payload)
    {
        if (!DiskUsable)
        {
            Interlocked.Increment(ref _passThroughFills);
            return;
        }

        long fileBytes;
        try
        {
            fileBytes = BlockFileStore.FileBytes(key, payload.Length);
        }
        catch (ArgumentException e)
        {
            PassThrough(path, e.Message);
            return;
        }

        if (!_eviction.TryReserve(fileBytes, out var refusal))
        {
            PassThrough(path, refusal);
            return;
        }

        if (!_files.TryWrite(key, path, payload, fileBytes, out var error))
        {
            _eviction.Release(fileBytes);
            PassThrough(path, error);
        }
    }

    /// <summary>
    /// Forgets every block of an object and deletes its files. While the start-up scan runs this also leaves a
    /// tombstone: the object's files the scan has not indexed yet (their names are hashes, so they cannot be found
    /// without reading every header) are then never indexed nor served, and the scan deletes them when it reaches them.
    /// </summary>
    public void Invalidate(string sourceIdentity, string objectKey)
    {
        var removed = new List<BlockEntry>();
        _index.RemoveObject(sourceIdentity, objectKey, removed);
        _files.DeleteRemoved(removed);
    }

    private bool MayBeUnindexedOnDisk(BlockKey key) => !_indexLoaded && !_index.IsInvalidatedWhileLoading(key);

    private void PassThrough(string path, string reason)
    {
        Interlocked.Increment(ref _passThroughFills);
        Log.PassThrough(_logger, path, reason);
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.BlockPassThrough, LogLevel.Warning, "Block {Path} served without caching it: {Reason}")]
        public static partial void PassThrough(ILogger logger, string path, string reason);
    }
}
