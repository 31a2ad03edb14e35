using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The block files under <c>blocks/&lt;2 hex&gt;/&lt;sha256&gt;.blk</c>: where a block's file is, verified reads
/// (a damaged file is dropped), writes to a temp file renamed into place, and deletions that never remove a file a
/// concurrent fill has just renamed over the one being deleted. It keeps the index in step with the files it
/// renames and deletes, but decides nothing about room: reservations and eviction are <see cref="BlockEviction"/>'s.
/// </summary>
internal sealed partial class BlockFileStore
{
    private const int FileLockStripes = 64;

    /// <summary>
    /// Block files kept open between hits: 1 GiB of hot blocks at the default 4 MiB, and few enough descriptors to
    /// fit beside a busy server's sockets under a soft limit of 1,024.
    /// </summary>
    public const int DefaultOpenFilesKept = 256;

    /// <summary>How often a hit may push a block file's mtime forward, which is the LRU order a restart sees.</summary>
    private static readonly TimeSpan PersistedTouchInterval = TimeSpan.FromMinutes(1);

    private readonly BlockIndex _index;
    private readonly OpenBlockFiles _openFiles;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // In every temp-file name: the start-up scan deletes temp files of dead processes, never those of this one.
    private readonly string _instanceTag = Guid.NewGuid().ToString("N")[..12];

    // Renames into place, index additions and deletions of one path happen under its stripe, so an eviction
    // never deletes a file that a concurrent fill has just renamed over the evicted one.
    private readonly Lock[] _fileLocks;
    private readonly bool[] _shardCreated = new bool[256];
    private long _tempCounter;
    private long _corruptBlocks;

    public BlockFileStore(string blocksDirectory, BlockIndex index, TimeProvider time, ILogger logger, int openFilesKept = DefaultOpenFilesKept)
    {
        BlocksDirectory = blocksDirectory;
        _openFiles = new OpenBlockFiles(openFilesKept);
        _index = index;
        _time = time;
        _logger = logger;
        _fileLocks = new Lock[FileLockStripes];
        for (var i = 0; i < _fileLocks.Length; i++)
        {
            _fileLocks[i] = new Lock();
        }
    }

    public string BlocksDirectory { get; }

    /// <summary>Damaged block files dropped (on read or by the start-up scan).</summary>
    public long CorruptBlocks => Interlocked.Read(ref _corruptBlocks);

    /// <summary>Bytes a block file takes on disk (header + payload): what the quota counts.</summary>
    public static long FileBytes(BlockKey key, int payloadLength) => BlockFileFormat.HeaderSize(key, payloadLength) + (long)payloadLength;

    public string PathOf(BlockKey key)
    {
        var stem = BlockFileFormat.FileStem(key);
        return Path.Join(BlocksDirectory, stem.AsSpan(0, 2), string.Concat(stem, BlockFileFormat.BlockExtension));
    }

    /// <summary>The stripe that serialises renames, index changes and deletions of one path.</summary>
    public Lock LockFor(string path) => _fileLocks[(uint)string.GetHashCode(path.AsSpan(path.Length - 12), StringComparison.Ordinal) % FileLockStripes];

    /// <summary>True for a temp file of this process (a fill in progress), which the start-up scan leaves alone.</summary>
    public bool IsOwnTempFile(string path) => path.Contains(_instanceTag, StringComparison.Ordinal);

    /// <summary>
    /// Reads bytes [<paramref name="offset"/>, +destination length) of <paramref name="key"/>'s file after checking
    /// the header, the key fields and the CRCs of the chunks read. A damaged file is dropped here. The file of an
    /// indexed <paramref name="entry"/> is kept open for the next hit (see <see cref="OpenBlockFile"/>), and
    /// <paramref name="path"/> is only derived from the key when the file has to be opened or dropped.
    /// </summary>
    public BlockFileRead Read(BlockKey key, string? path, int blockLength, int offset, Span<byte> destination, BlockEntry? entry)
    {
        if (entry?.UseOpenFile() is { } open)
        {
            var outcome = BlockFileRead.Corrupt;
            var reason = "unreadable";
            try
            {
                outcome = open.Read(offset, destination, out reason);
            }
            catch (ObjectDisposedException)
            {
                // Closed by the clock or a removal since it was looked up: open the file by its path below.
                outcome = BlockFileRead.Missing;
            }
            catch (IOException e)
            {
                Log.BlockUnreadable(_logger, path ?? PathOf(key), e);
            }

            if (outcome == BlockFileRead.Read)
            {
                PersistTouch(open.Handle, entry);
                return outcome;
            }

            if (outcome == BlockFileRead.Corrupt)
            {
                DropCorrupt(key, path ?? PathOf(key), entry, reason);
                return outcome;
            }
        }

        return OpenAndRead(key, path ?? PathOf(key), blockLength, offset, destination, entry);
    }

    private BlockFileRead OpenAndRead(BlockKey key, string path, int blockLength, int offset, Span<byte> destination, BlockEntry? entry)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (entry is not null)
            {
                // Deleted behind the index's back (by an operator, or a lost race with eviction): forget it.
                _index.Remove(entry);
            }

            return BlockFileRead.Missing;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.BlockUnreadable(_logger, path, e);
            return BlockFileRead.Missing;
        }

        var outcome = BlockFileRead.Corrupt;
        var reason = "unreadable";
        OpenBlockFile? keep = null;
        try
        {
            outcome = BlockFileReader.ReadHeader(handle, key, blockLength, out var header, out reason);
            if (outcome == BlockFileRead.Read)
            {
                outcome = BlockFileReader.ReadChunks(handle, header!, offset, destination, out reason);
            }

            if (outcome == BlockFileRead.Read)
            {
                PersistTouch(handle, entry);
                if (entry is not null)
                {
                    keep = new OpenBlockFile(handle, header!);
                }
            }
        }
        catch (IOException e)
        {
            Log.BlockUnreadable(_logger, path, e);
        }
        finally
        {
            if (keep is null)
            {
                handle.Dispose();
            }
        }

        if (keep is not null)
        {
            _openFiles.Keep(entry!, keep);
        }
        else if (outcome == BlockFileRead.Corrupt)
        {
            DropCorrupt(key, path, entry, reason);
        }

        return outcome;
    }

    /// <summary>Block files kept open between hits.</summary>
    public int OpenFiles => _openFiles.Count;

    /// <summary>Closes the block files kept open between hits (the cache is being disposed).</summary>
    public void CloseOpenFiles() => _openFiles.CloseAll();

    /// <summary>
    /// Writes a block whose <paramref name="fileBytes"/> are already reserved in the index: temp file, then rename
    /// into place and index it. False (with the error) when the disk refused; the caller releases the reservation.
    /// </summary>
    public bool TryWrite(BlockKey key, string path, ReadOnlySpan<byte> payload, long fileBytes, out string error)
    {
        var headerSize = (int)(fileBytes - payload.Length);
        string? temp = null;
        var header = ArrayPool<byte>.Shared.Rent(headerSize);
        try
        {
            EnsureShardDirectory(path);
            temp = $"{path}.{_instanceTag}-{Interlocked.Increment(ref _tempCounter)}{BlockFileFormat.TempExtension}";
            BlockFileFormat.WriteHeader(header, key, payload);

            // Preallocating makes a full disk fail here, on the temp file, rather than halfway through the payload.
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, fileBytes))
            {
                RandomAccess.Write(handle, header.AsSpan(0, headerSize), 0);
                RandomAccess.Write(handle, payload, headerSize);
            }

            var entry = new BlockEntry(key, fileBytes) { LastPersistedTouchTicks = _time.GetUtcNow().UtcTicks };
            lock (LockFor(path))
            {
                // rename(2) within one directory is atomic: the name holds the old file or the complete new one.
                File.Move(temp, path, overwrite: true);
                temp = null;
                _index.AddReserved(entry);
            }

            error = "";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
            if (temp is not null)
            {
                TryDelete(temp);
            }
        }
    }

    /// <summary>Deletes the files of entries already removed from the index, unless a newer file took their name.</summary>
    public void DeleteRemoved(List<BlockEntry> removed)
    {
        foreach (var entry in removed)
        {
            DeleteIfUnindexed(entry.Key, PathOf(entry.Key));
        }
    }

    /// <summary>Deletes a block file unless its key is (again) in the index: a newer file took the name.</summary>
    public void DeleteIfUnindexed(BlockKey key, string path)
    {
        lock (LockFor(path))
        {
            if (!_index.Contains(key))
            {
                TryDelete(path);
            }
        }
    }

    /// <summary>Drops a file the start-up scan found damaged or foreign.</summary>
    public void DropUnreadable(string path, string reason)
    {
        Log.CorruptBlockDropped(_logger, path, reason);
        Interlocked.Increment(ref _corruptBlocks);
        TryDelete(path);
    }

    public void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.DeleteFailed(_logger, path, e);
        }
    }

    /// <summary>Moves the file's mtime forward now and then, so that a restart's scan rebuilds a true LRU order.</summary>
    private void PersistTouch(SafeFileHandle handle, BlockEntry? entry)
    {
        var now = _time.GetUtcNow();
        if (entry is not null && now.UtcTicks - entry.LastPersistedTouchTicks < PersistedTouchInterval.Ticks)
        {
            return;
        }

        try
        {
            File.SetLastWriteTimeUtc(handle, now.UtcDateTime);
            if (entry is not null)
            {
                entry.LastPersistedTouchTicks = now.UtcTicks;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // Only the cross-restart LRU order suffers; the read itself succeeded (a kept file may have been closed
            // by the clock or a removal since).
        }
    }

    private void DropCorrupt(BlockKey key, string path, BlockEntry? entry, string reason)
    {
        Interlocked.Increment(ref _corruptBlocks);
        Log.CorruptBlockDropped(_logger, path, reason);
        lock (LockFor(path))
        {
            // Only delete the file we read: a fill may have renamed a good one into place meanwhile (it would be
            // in the index under a new entry).
            var ours = entry is not null ? _index.Remove(entry) : !_index.Contains(key);
            if (ours)
            {
                TryDelete(path);
            }
        }
    }

    private void EnsureShardDirectory(string path)
    {
        var shard = Path.GetDirectoryName(path)!;
        var index = Convert.ToInt32(Path.GetFileName(shard), 16);
        if (!Volatile.Read(ref _shardCreated[index]))
        {
            Directory.CreateDirectory(shard);
            Volatile.Write(ref _shardCreated[index], true);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CorruptBlockDropped, LogLevel.Warning, "Dropped corrupt block file {Path}: {Reason}; it is fetched again")]
        public static partial void CorruptBlockDropped(ILogger logger, string path, string reason);

        [LoggerMessage(EventIds.BlockUnreadable, LogLevel.Warning, "Could not read block file {Path}; fetching it from the remote")]
        public static partial void BlockUnreadable(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventIds.BlockDeleteFailed, LogLevel.Warning, "Could not delete block file {Path}")]
        public static partial void DeleteFailed(ILogger logger, string path, Exception exception);
    }
}
