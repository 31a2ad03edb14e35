using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Enumeration;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The block cache on a local directory: one file per block under <c>blocks/&lt;2 hex&gt;/&lt;sha256&gt;.blk</c>,
/// found by hashing the key (no index needed to read), CRC-checked on every read, written to a temp file and
/// renamed into place, evicted LRU under a byte quota and a free-space floor. The index (LRU order and sizes) is
/// rebuilt by a background scan so start-up never waits for it. See README.md in this folder.
/// </summary>
internal sealed partial class DiskBlockCache : IBlockCache, IAsyncDisposable, IDisposable
{
    private const int FileLockStripes = 64;

    /// <summary>How often a hit may push a block file's mtime forward, which is the LRU order a restart sees.</summary>
    private static readonly TimeSpan PersistedTouchInterval = TimeSpan.FromMinutes(1);

    private readonly DiskBlockCacheOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _blocksDirectory;

    // In every temp-file name: the start-up scan deletes temp files of dead processes, never those of this one.
    private readonly string _instanceTag = Guid.NewGuid().ToString("N")[..12];
    private readonly BlockIndex _index = new();
    private readonly ConcurrentDictionary<BlockKey, BlockFlight> _flights = new();
    private readonly FetchSlots _slots;

    // Renames into place, index additions and deletions of one path happen under its stripe, so an eviction
    // never deletes a file that a concurrent fill has just renamed over the evicted one.
    private readonly Lock[] _fileLocks;
    private readonly bool[] _shardCreated = new bool[256];
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationToken _lifetimeToken;
    private readonly DriveInfo? _drive;
    private readonly TaskCompletionSource _indexLoadStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _indexLoad;
    private volatile bool _indexLoaded;
    private volatile bool _disposed;
    private readonly bool _diskUsable;
    private long _tempCounter;
    private int _disposeStarted;

    private long _hits;
    private long _misses;
    private long _evictions;
    private long _corruptBlocks;
    private long _passThroughFills;
    private long _remoteFetches;
    private long _remoteBytes;
    private long _singleFlightJoins;
    private long _remoteRequests;

    public DiskBlockCache(DiskBlockCacheOptions options, ILogger<DiskBlockCache> logger, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger;
        _time = timeProvider;
        _lifetimeToken = _lifetime.Token;
        _slots = new FetchSlots(options.OnDemandFetchConcurrency, options.ReadAheadFetchConcurrency, options.PrefetchFetchConcurrency);
        _fileLocks = new Lock[FileLockStripes];
        for (var i = 0; i < _fileLocks.Length; i++)
        {
            _fileLocks[i] = new Lock();
        }

        _blocksDirectory = Path.Combine(Path.GetFullPath(options.Directory), "blocks");
        try
        {
            Directory.CreateDirectory(_blocksDirectory);
            _drive = new DriveInfo(_blocksDirectory);
            _diskUsable = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A cache that cannot use its directory still serves: every read passes through to the remote.
            Log.DirectoryUnusable(_logger, _blocksDirectory, e);
        }

        if (_diskUsable)
        {
            _indexLoad = LoadIndexWhenStartedAsync();
            if (!options.DeferIndexLoad)
            {
                StartIndexLoad();
            }
        }
        else
        {
            _index.CompleteLoad();
            _indexLoaded = true;
            _indexLoad = Task.CompletedTask;
        }
    }

    /// <summary>
    /// Test hook: awaited by the start-up scan after it has listed the block files and before it indexes them, so
    /// a test can interleave an invalidation or a read with the scan deterministically. Set it before
    /// <see cref="StartIndexLoad"/>.
    /// </summary>
    internal Func<Task>? ScanListedHook { get; set; }

    /// <summary>Starts the background index scan (idempotent).</summary>
    public void StartIndexLoad() => _indexLoadStarted.TrySetResult();

    public int BlockSize => _options.BlockSize;

    /// <summary>Completes when the background scan has rebuilt the index (for tests and the status page).</summary>
    internal Task IndexLoadCompletion => _indexLoad;

    public ValueTask<BlockLease> GetAsync(
        BlockKey key,
        int length,
        Func<Memory<byte>, CancellationToken, ValueTask> fetch,
        BlockPriority priority,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(fetch);
        if (length <= 0 || length > _options.BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a block holds 1..{_options.BlockSize} bytes");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var path = BlockPath(key);
        var lease = TryReadLease(key, path, length);
        if (lease is not null)
        {
            Interlocked.Increment(ref _hits);
            return new ValueTask<BlockLease>(lease);
        }

        Interlocked.Increment(ref _misses);
        return FetchAsync(key, path, length, fetch, priority, cancellationToken);
    }

    public BlockLease? TryReadCached(BlockKey key, int blockLength, int offset, int count, bool continuation = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (blockLength <= 0 || blockLength > _options.BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(blockLength), blockLength, $"a block holds 1..{_options.BlockSize} bytes");
        }

        if (offset < 0 || count <= 0 || offset > blockLength - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, {offset}+{count}) is outside a block of {blockLength} bytes");
        }

        var lease = TryReadLease(key, BlockPath(key), blockLength, offset, count);
        if (lease is not null && !continuation)
        {
            Interlocked.Increment(ref _hits);
        }

        return lease;
    }

    public bool Contains(BlockKey key)
    {
        if (_index.Contains(key))
        {
            return true;
        }

        return !_indexLoaded && _diskUsable && !_index.IsInvalidatedWhileLoading(key) && File.Exists(BlockPath(key));
    }

    public void Invalidate(string sourceIdentity, string objectKey)
    {
        ArgumentNullException.ThrowIfNull(sourceIdentity);
        ArgumentNullException.ThrowIfNull(objectKey);

        // While the start-up scan runs this also leaves a tombstone: the object's files the scan has not indexed yet
        // (their names are hashes, so they cannot be found without reading every header) are then never indexed
        // nor served, and the scan deletes them when it reaches them.
        var removed = new List<BlockEntry>();
        _index.RemoveObject(sourceIdentity, objectKey, removed);
        DeleteRemovedFiles(removed);
    }

    public CacheStatistics GetStatistics() => new(
        Blocks: _index.Count,
        UsedBytes: _index.UsedBytes,
        QuotaBytes: _options.QuotaBytes,
        Hits: Interlocked.Read(ref _hits),
        Misses: Interlocked.Read(ref _misses),
        Evictions: Interlocked.Read(ref _evictions),
        CorruptBlocksDropped: Interlocked.Read(ref _corruptBlocks),
        PassThroughFills: Interlocked.Read(ref _passThroughFills),
        IndexLoaded: _indexLoaded)
    {
        RemoteFetches = Interlocked.Read(ref _remoteFetches),
        RemoteBytes = Interlocked.Read(ref _remoteBytes),
        SingleFlightJoins = Interlocked.Read(ref _singleFlightJoins),
        RemoteRequests = Interlocked.Read(ref _remoteRequests),
    };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        _disposed = true;
        await _lifetime.CancelAsync();
        try
        {
            await _indexLoad;
        }
        catch (OperationCanceledException)
        {
            // The scan stops early on shutdown; the files stay and the next start scans them again.
        }

        _lifetime.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async ValueTask<BlockLease> FetchAsync(
        BlockKey key,
        string path,
        int length,
        Func<Memory<byte>, CancellationToken, ValueTask> fetch,
        BlockPriority priority,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_flights.TryGetValue(key, out var running))
            {
                if (running.TryJoin())
                {
                    Interlocked.Increment(ref _singleFlightJoins);
                    running.RaisePriority(priority);
                    return await AwaitFlightAsync(running, cancellationToken);
                }

                // That flight has just finished and left the map: its block is on disk now (or passed through).
                var lease = TryReadLease(key, path, length);
                if (lease is not null)
                {
                    return lease;
                }

                continue;
            }

            var flight = new BlockFlight(length, priority);
            if (!_flights.TryAdd(key, flight))
            {
                flight.Leave();
                continue;
            }

            flight.TryJoin();
            _ = RunFlightAsync(key, path, flight, fetch);
            return await AwaitFlightAsync(flight, cancellationToken);
        }
    }

    private static async ValueTask<BlockLease> AwaitFlightAsync(BlockFlight flight, CancellationToken cancellationToken)
    {
        try
        {
            await flight.Completion.WaitAsync(cancellationToken);
            if (flight.TryTakeBuffer() is { } own)
            {
                return new BlockLease(own, flight.Length, flight.FromDisk);
            }

            var buffer = BlockBuffers.Rent(flight.Length);
            flight.Payload.CopyTo(buffer);
            return new BlockLease(buffer, flight.Length, flight.FromDisk);
        }
        finally
        {
            flight.Leave();
        }
    }

    private async Task RunFlightAsync(BlockKey key, string path, BlockFlight flight, Func<Memory<byte>, CancellationToken, ValueTask> fetch)
    {
        try
        {
            // A flight that ended between this reader's disk miss and the start of this one stored the block:
            // read it instead of fetching it a second time.
            if (MayBeOnDisk(key) && ReadFromDisk(key, path, flight.Length, 0, flight.AllocatePayload().Span, entry: null) == BlockFileRead.Read)
            {
                flight.FromDisk = true;
                flight.Complete();
                return;
            }

            var slot = await _slots.AcquireAsync(flight, _lifetimeToken);
            Memory<byte> payload;
            try
            {
                payload = flight.AllocatePayload();
                Interlocked.Increment(ref _remoteRequests);
                await fetch(payload, _lifetimeToken);
            }
            finally
            {
                slot.Release();
            }

            // Stored before readers are released: when GetAsync returns, the block is on disk (or passed through),
            // so an Invalidate or a Contains after a read sees it. The write goes to the page cache: ~1 ms per 4 MiB.
            StoreFetched(key, path, payload.Span);
            flight.Complete();
        }
        catch (Exception e)
        {
            flight.Fail(e);
        }
        finally
        {
            EndFlight(key, flight);
        }
    }

    /// <summary>Counts a block fetched from the remote and stores it; a key too long for a block header is served, not kept.</summary>
    private void StoreFetched(BlockKey key, string path, ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref _remoteFetches);
        Interlocked.Add(ref _remoteBytes, payload.Length);
        try
        {
            Store(key, path, payload);
        }
        catch (ArgumentException e)
        {
            PassThrough(path, e.Message);
        }
    }

    /// <summary>Takes an ended flight out of the map and drops the fetcher's hold on it.</summary>
    private void EndFlight(BlockKey key, BlockFlight flight)
    {
        _flights.TryRemove(new KeyValuePair<BlockKey, BlockFlight>(key, flight));
        flight.Leave();
    }

    public IReadOnlyList<Task> FetchRun(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(fetchRun);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (lastBlockLength <= 0 || lastBlockLength > _options.BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(lastBlockLength), lastBlockLength, $"a block holds 1..{_options.BlockSize} bytes");
        }

        // Claim every block that is neither on disk nor in flight by registering its flight now, before any await:
        // a reader arriving a moment later joins it instead of fetching the block a second time.
        var done = new Task[count];
        var runs = new List<List<RunBlock>>();
        List<RunBlock>? run = null;
        for (var i = 0; i < count; i++)
        {
            var key = first with { Index = first.Index + i };
            var length = i == count - 1 ? lastBlockLength : _options.BlockSize;
            var claimed = TryClaim(key, length, priority, out var ready);
            if (claimed is null)
            {
                done[i] = ready;
                run = null;
                continue;
            }

            done[i] = claimed.Flight.Completion;
            if (run is null)
            {
                run = [];
                runs.Add(run);
            }

            run.Add(claimed);
        }

        foreach (var blocks in runs)
        {
            _ = RunSpanAsync(blocks, fetchRun);
        }

        return done;
    }

    /// <summary>A new flight for a missing block not in flight; otherwise null and what to wait on for it.</summary>
    private RunBlock? TryClaim(BlockKey key, int length, BlockPriority priority, out Task ready)
    {
        while (true)
        {
            if (Contains(key))
            {
                ready = Task.CompletedTask;
                return null;
            }

            if (_flights.TryGetValue(key, out var running))
            {
                running.RaisePriority(priority);
                ready = running.Completion;
                return null;
            }

            var flight = new BlockFlight(length, priority);
            if (!_flights.TryAdd(key, flight))
            {
                continue;
            }

            // A flight that ended between the checks above stored the block before it left the map.
            if (Contains(key))
            {
                _flights.TryRemove(new KeyValuePair<BlockKey, BlockFlight>(key, flight));
                flight.Complete();
                flight.Leave();
                ready = Task.CompletedTask;
                return null;
            }

            Interlocked.Increment(ref _misses);
            ready = flight.Completion;
            return new RunBlock(key, BlockPath(key), flight);
        }
    }

    /// <summary>One remote request for a run of claimed adjacent blocks; a failure fails only the blocks not yet stored.</summary>
    private async Task RunSpanAsync(List<RunBlock> blocks, Func<RangeSink, CancellationToken, ValueTask> fetchRun)
    {
        var sink = new BlockRunSink(blocks, _options.BlockSize, CompleteRunBlock, FailRunBlock);
        SemaphoreSlim? slot = null;
        try
        {
            // The run waits at its first block's priority: a reader joining that block (the one it needs first) raises it.
            slot = await _slots.AcquireAsync(blocks[0].Flight, _lifetimeToken);
            Interlocked.Increment(ref _remoteRequests);
            await fetchRun(sink, _lifetimeToken);
            if (sink.Remaining > 0)
            {
                throw new IOException($"the source returned with {sink.Remaining} bytes of the run still missing");
            }
        }
        catch (Exception e)
        {
            sink.FailRest(e);
        }
        finally
        {
            slot?.Release();
        }
    }

    /// <summary>A block of a run has all its bytes: count, store (before readers are released, as a flight does), release.</summary>
    private void CompleteRunBlock(RunBlock block, Memory<byte> payload)
    {
        try
        {
            StoreFetched(block.Key, block.Path, payload.Span);
        }
        finally
        {
            block.Flight.Complete();
            EndFlight(block.Key, block.Flight);
        }
    }

    private void FailRunBlock(RunBlock block, Exception error)
    {
        block.Flight.Fail(error);
        EndFlight(block.Key, block.Flight);
    }

    private bool MayBeOnDisk(BlockKey key) => _diskUsable && (_index.Contains(key) || MayBeUnindexedOnDisk(key));

    /// <summary>Before the scan has finished, a file not in the index may still be a valid block (unless invalidated).</summary>
    private bool MayBeUnindexedOnDisk(BlockKey key) => !_indexLoaded && !_index.IsInvalidatedWhileLoading(key);

    private BlockLease? TryReadLease(BlockKey key, string path, int length) => TryReadLease(key, path, length, 0, length);

    /// <summary>Bytes [offset, offset+count) of a block of <paramref name="blockLength"/> bytes, when on disk and intact.</summary>
    private BlockLease? TryReadLease(BlockKey key, string path, int blockLength, int offset, int count)
    {
        var entry = _index.TouchAndPin(key);
        if (entry is null && !(_diskUsable && MayBeUnindexedOnDisk(key)))
        {
            return null;
        }

        var buffer = BlockBuffers.Rent(count);
        if (ReadFromDisk(key, path, blockLength, offset, buffer.AsSpan(0, count), entry) == BlockFileRead.Read)
        {
            if (entry is null)
            {
                // Read before the scan reached this file: index it now (the scan will find it already there). Refused
                // when the object was invalidated while this read ran: those bytes are of a version no longer served.
                var fileBytes = BlockFileFormat.HeaderSize(key, blockLength) + (long)blockLength;
                entry = _index.AddReadBeforeLoad(new BlockEntry(key, fileBytes));
                if (entry is null)
                {
                    BlockBuffers.Return(buffer);
                    DeleteIfUnindexed(key, path);
                    return null;
                }

                entry.Pin();
            }

            return new BlockLease(buffer, count, fromCache: true, entry);
        }

        entry?.Unpin();
        BlockBuffers.Return(buffer);
        return null;
    }

    private enum BlockFileRead
    {
        Read,
        Missing,
        Corrupt,
    }

    /// <summary>
    /// Reads bytes [<paramref name="offset"/>, +destination length) of <paramref name="key"/>'s file after checking
    /// the header, the key fields and the CRCs of the chunks read. A damaged file is dropped here.
    /// </summary>
    private BlockFileRead ReadFromDisk(BlockKey key, string path, int blockLength, int offset, Span<byte> destination, BlockEntry? entry)
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
        using (handle)
        {
            try
            {
                outcome = ReadVerified(handle, key, blockLength, offset, destination, out reason);
                if (outcome == BlockFileRead.Read)
                {
                    PersistTouch(handle, entry);
                }
            }
            catch (IOException e)
            {
                Log.BlockUnreadable(_logger, path, e);
            }
        }

        if (outcome == BlockFileRead.Corrupt)
        {
            DropCorrupt(key, path, entry, reason);
        }

        return outcome;
    }

    /// <summary>Bytes read at once for a header: covers the fixed part, the key fields and the chunk CRC table.</summary>
    private const int HeaderProbeSize = 4096;

    private static BlockFileRead ReadVerified(SafeFileHandle handle, BlockKey key, int blockLength, int offset, Span<byte> destination, out string reason)
    {
        var fileLength = RandomAccess.GetLength(handle);
        var probe = ArrayPool<byte>.Shared.Rent(HeaderProbeSize);
        byte[]? largeHeader = null;
        try
        {
            var got = ReadFully(handle, probe.AsSpan(0, (int)Math.Min(HeaderProbeSize, fileLength)), 0);
            if (!BlockFileFormat.TryReadFixedHeader(probe.AsSpan(0, got), out var headerSize, out var payloadLength, out var chunkSize))
            {
                reason = "bad header";
                return BlockFileRead.Corrupt;
            }

            if (fileLength != headerSize + (long)payloadLength)
            {
                reason = $"file is {fileLength} bytes, header says {headerSize + (long)payloadLength}";
                return BlockFileRead.Corrupt;
            }

            Span<byte> header;
            if (headerSize <= got)
            {
                header = probe.AsSpan(0, headerSize);
            }
            else
            {
                largeHeader = ArrayPool<byte>.Shared.Rent(headerSize);
                header = largeHeader.AsSpan(0, headerSize);
                if (ReadFully(handle, header, 0) != headerSize)
                {
                    reason = "short header";
                    return BlockFileRead.Corrupt;
                }
            }

            if (!BlockFileFormat.IsHeaderIntact(header))
            {
                reason = "header CRC mismatch";
                return BlockFileRead.Corrupt;
            }

            if (!BlockFileFormat.KeyMatches(header, key))
            {
                // An intact file of another key under this name (a hash collision): a miss; the fill overwrites it.
                reason = "";
                return BlockFileRead.Missing;
            }

            if (payloadLength != blockLength)
            {
                reason = $"payload is {payloadLength} bytes, the object's block is {blockLength}";
                return BlockFileRead.Corrupt;
            }

            return ReadChunks(handle, header, headerSize, payloadLength, chunkSize, offset, destination, out reason);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(probe);
            if (largeHeader is not null)
            {
                ArrayPool<byte>.Shared.Return(largeHeader);
            }
        }
    }

    /// <summary>Reads the whole chunks that cover the requested bytes, checks each chunk's CRC, copies the bytes out.</summary>
    private static BlockFileRead ReadChunks(
        SafeFileHandle handle,
        ReadOnlySpan<byte> header,
        int headerSize,
        int payloadLength,
        int chunkSize,
        int offset,
        Span<byte> destination,
        out string reason)
    {
        var firstChunk = offset / chunkSize;
        var lastChunk = (offset + destination.Length - 1) / chunkSize;
        var spanStart = firstChunk * chunkSize;
        var spanEnd = (int)Math.Min(payloadLength, (lastChunk + 1L) * chunkSize);
        var direct = spanStart == offset && spanEnd == offset + destination.Length;
        var scratch = direct ? null : BlockBuffers.Rent(spanEnd - spanStart);
        try
        {
            var chunks = direct ? destination : scratch.AsSpan(0, spanEnd - spanStart);
            if (ReadFully(handle, chunks, headerSize + (long)spanStart) != chunks.Length)
            {
                reason = "short payload";
                return BlockFileRead.Corrupt;
            }

            for (var chunk = firstChunk; chunk <= lastChunk; chunk++)
            {
                var at = (chunk * chunkSize) - spanStart;
                var bytes = chunks.Slice(at, Math.Min(chunkSize, chunks.Length - at));
                if (BlockFileFormat.Crc32C(bytes) != BlockFileFormat.ChunkCrc(header, chunk))
                {
                    reason = $"CRC mismatch in chunk {chunk}";
                    return BlockFileRead.Corrupt;
                }
            }

            if (!direct)
            {
                chunks.Slice(offset - spanStart, destination.Length).CopyTo(destination);
            }

            reason = "";
            return BlockFileRead.Read;
        }
        finally
        {
            if (scratch is not null)
            {
                BlockBuffers.Return(scratch);
            }
        }
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only the cross-restart LRU order suffers; the read itself succeeded.
        }
    }

    private void DropCorrupt(BlockKey key, string path, BlockEntry? entry, string reason)
    {
        Interlocked.Increment(ref _corruptBlocks);
        Log.CorruptBlockDropped(_logger, path, reason);
        lock (FileLockFor(path))
        {
            // Only delete the file we read: a fill may have renamed a good one into place meanwhile (it would be
            // in the index under a new entry).
            var ours = entry is not null ? _index.Remove(entry) : !_index.Contains(key);
            if (ours)
            {
                TryDeleteFile(path);
            }
        }
    }

    /// <summary>Stores a fetched block; any reason it cannot (quota, free-space floor, I/O error) means pass-through.</summary>
    private void Store(BlockKey key, string path, ReadOnlySpan<byte> payload)
    {
        if (!_diskUsable)
        {
            Interlocked.Increment(ref _passThroughFills);
            return;
        }

        var headerSize = BlockFileFormat.HeaderSize(key, payload.Length);
        var fileBytes = headerSize + (long)payload.Length;
        var victims = new List<BlockEntry>();
        if (!_index.TryReserve(fileBytes, _options.QuotaBytes, victims))
        {
            PassThrough(path, "the block does not fit in the quota (every other block is in use or the quota is smaller than a block)");
            return;
        }

        DeleteEvicted(victims);
        if (!EnsureFreeSpace(fileBytes))
        {
            _index.ReleaseReservation(fileBytes);
            PassThrough(path, $"the disk would have less than {_options.MinFreeBytes} bytes free");
            return;
        }

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
            lock (FileLockFor(path))
            {
                // rename(2) within one directory is atomic: the name holds the old file or the complete new one.
                File.Move(temp, path, overwrite: true);
                temp = null;
                _index.AddReserved(entry);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _index.ReleaseReservation(fileBytes);
            PassThrough(path, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
            if (temp is not null)
            {
                TryDeleteFile(temp);
            }
        }
    }

    private void PassThrough(string path, string reason)
    {
        Interlocked.Increment(ref _passThroughFills);
        Log.PassThrough(_logger, path, reason);
    }

    /// <summary>Evicts LRU blocks until the disk keeps its free-space floor after writing <paramref name="fileBytes"/>.</summary>
    private bool EnsureFreeSpace(long fileBytes)
    {
        if (_drive is null)
        {
            return true;
        }

        var victims = new List<BlockEntry>();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            long available;
            try
            {
                available = _drive.AvailableFreeSpace;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Cannot tell: write and let ENOSPC, if any, turn into pass-through.
                return true;
            }

            var shortfall = _options.MinFreeBytes + fileBytes - available;
            if (shortfall <= 0)
            {
                return true;
            }

            victims.Clear();
            _index.EvictAtLeast(shortfall, victims);
            if (victims.Count == 0)
            {
                return false;
            }

            DeleteEvicted(victims);
        }

        return false;
    }

    private void DeleteEvicted(List<BlockEntry> victims)
    {
        if (victims.Count == 0)
        {
            return;
        }

        Interlocked.Add(ref _evictions, victims.Count);
        DeleteRemovedFiles(victims);
    }

    /// <summary>Deletes the files of entries already removed from the index, unless a newer file took their name.</summary>
    private void DeleteRemovedFiles(List<BlockEntry> removed)
    {
        foreach (var entry in removed)
        {
            DeleteIfUnindexed(entry.Key, BlockPath(entry.Key));
        }
    }

    /// <summary>Deletes a block file unless its key is (again) in the index: a newer file took the name.</summary>
    private void DeleteIfUnindexed(BlockKey key, string path)
    {
        lock (FileLockFor(path))
        {
            if (!_index.Contains(key))
            {
                TryDeleteFile(path);
            }
        }
    }

    private void TryDeleteFile(string path)
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

    private string BlockPath(BlockKey key)
    {
        var stem = BlockFileFormat.FileStem(key);
        return Path.Join(_blocksDirectory, stem.AsSpan(0, 2), string.Concat(stem, BlockFileFormat.BlockExtension));
    }

    private Lock FileLockFor(string path) => _fileLocks[(uint)string.GetHashCode(path.AsSpan(path.Length - 12), StringComparison.Ordinal) % FileLockStripes];

    /// <summary>
    /// The background scan: indexes every intact block file (oldest mtime = least recently used), deletes temp
    /// files left by dead processes and files whose header is torn, then enforces the quota.
    /// </summary>
    private async Task LoadIndexWhenStartedAsync()
    {
        await _indexLoadStarted.Task.WaitAsync(_lifetimeToken);
        await Task.Run(LoadIndexAsync, _lifetimeToken);
    }

    /// <summary>A block file the scan found: its entry, its path (entries do not keep one) and its mtime.</summary>
    private readonly record struct ScannedBlock(BlockEntry Entry, string Path, long ModifiedTicks);

    private async Task LoadIndexAsync()
    {
        var started = Stopwatch.GetTimestamp();
        var found = new List<ScannedBlock>();
        try
        {
            ListBlockFiles(found);
            if (ScanListedHook is { } hook)
            {
                await hook();
            }

            // Newest first, each added before the others: the oldest ends at the head of the LRU list, and all
            // of them before blocks this process already touched.
            found.Sort(static (a, b) => b.ModifiedTicks.CompareTo(a.ModifiedTicks));
            var dropped = 0;
            foreach (var block in found)
            {
                // Under the file's stripe, like deletions: a file this run evicted after the scan saw it is not
                // indexed again, and one evicted "meanwhile" but not yet deleted is kept (the eviction sees the
                // entry and leaves the file), so the index and the disk agree. A file of an object invalidated
                // since the scan started is refused by the index and deleted here.
                lock (FileLockFor(block.Path))
                {
                    if (File.Exists(block.Path) && _index.AddScanned(block.Entry) is null)
                    {
                        TryDeleteFile(block.Path);
                        dropped++;
                    }
                }
            }

            var excess = _index.UsedBytes - _options.QuotaBytes;
            if (excess > 0)
            {
                // The quota shrank since the last run.
                var victims = new List<BlockEntry>();
                _index.EvictAtLeast(excess, victims);
                DeleteEvicted(victims);
            }

            Log.IndexLoaded(_logger, found.Count - dropped, _index.UsedBytes, Stopwatch.GetElapsedTime(started).TotalMilliseconds);

            // The scan leaves megabytes of garbage (paths, headers, the sorted list) that a quiet sidecar would keep
            // resident for a long time: a workstation GC keeps freed regions for reuse. One aggressive collection,
            // once, right after start-up, gives that memory back (idle RSS is paid by every pod).
            found.Clear();
            found.TrimExcess();
            _index.CompleteLoad(); // before the collection: it drops the index's grown table
            _indexLoaded = true;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reads stay correct without a full index (a missed file is fetched again and overwritten).
            Log.IndexLoadFailed(_logger, _blocksDirectory, e);
        }
        finally
        {
            // Index first: from here on a read that started before cannot add a file the scan did not keep.
            _index.CompleteLoad();
            _indexLoaded = true;
        }
    }

    private void ListBlockFiles(List<ScannedBlock> found)
    {
        // One instance of each source identity, object key and ETag for the life of the index (every block of an
        // object, and every object of a source, share them): the index of a warm cache stays resident for the life of the pod.
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in Directory.EnumerateDirectories(_blocksDirectory))
        {
            _lifetimeToken.ThrowIfCancellationRequested();
            ScanShard(shard, found, strings);
        }
    }

    private void ScanShard(string shard, List<ScannedBlock> found, Dictionary<string, string> strings)
    {
        var files = new FileSystemEnumerable<(string Path, long Length, DateTimeOffset Modified)>(
            shard,
            static (ref FileSystemEntry e) => (e.ToFullPath(), e.Length, e.LastWriteTimeUtc))
        {
            ShouldIncludePredicate = static (ref FileSystemEntry e) => !e.IsDirectory,
        };

        foreach (var file in files)
        {
            if (file.Path.EndsWith(BlockFileFormat.TempExtension, StringComparison.Ordinal))
            {
                // A temp file is never read; one of another process is what a crash left behind.
                if (!file.Path.Contains(_instanceTag, StringComparison.Ordinal))
                {
                    TryDeleteFile(file.Path);
                }

                continue;
            }

            if (!file.Path.EndsWith(BlockFileFormat.BlockExtension, StringComparison.Ordinal))
            {
                continue;
            }

            var key = TryReadKey(file.Path, file.Length);
            if (key is null || BlockPath(key.Value) != file.Path)
            {
                Log.CorruptBlockDropped(_logger, file.Path, "torn or foreign header found by the start-up scan");
                Interlocked.Increment(ref _corruptBlocks);
                TryDeleteFile(file.Path);
                continue;
            }

            var k = key.Value;
            var shared = new BlockKey(Intern(strings, k.SourceIdentity), Intern(strings, k.ObjectKey), Intern(strings, k.ETag), k.Index);
            var entry = new BlockEntry(shared, file.Length) { LastPersistedTouchTicks = file.Modified.UtcTicks };
            found.Add(new ScannedBlock(entry, file.Path, file.Modified.UtcTicks));
        }
    }

    private static string Intern(Dictionary<string, string> strings, string value)
    {
        if (strings.TryGetValue(value, out var existing))
        {
            return existing;
        }

        strings.Add(value, value);
        return value;
    }

    /// <summary>The key in a file's header when the header is intact and the file has the length it declares.</summary>
    private static BlockKey? TryReadKey(string path, long fileLength)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> fixedHeader = stackalloc byte[BlockFileFormat.FixedHeaderSize];
            if (ReadFully(handle, fixedHeader, 0) != fixedHeader.Length
                || !BlockFileFormat.TryReadFixedHeader(fixedHeader, out var headerSize, out var payloadLength, out _)
                || fileLength != headerSize + (long)payloadLength)
            {
                return null;
            }

            var header = ArrayPool<byte>.Shared.Rent(headerSize);
            try
            {
                var span = header.AsSpan(0, headerSize);
                return ReadFully(handle, span, 0) == headerSize && BlockFileFormat.IsHeaderIntact(span)
                    ? BlockFileFormat.ReadKey(span)
                    : null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(header);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CacheDirectoryUnusable, LogLevel.Error, "Block cache directory {Directory} is unusable; every read passes through to the remote")]
        public static partial void DirectoryUnusable(ILogger logger, string directory, Exception exception);

        [LoggerMessage(EventIds.CorruptBlockDropped, LogLevel.Warning, "Dropped corrupt block file {Path}: {Reason}; it is fetched again")]
        public static partial void CorruptBlockDropped(ILogger logger, string path, string reason);

        [LoggerMessage(EventIds.BlockPassThrough, LogLevel.Warning, "Block {Path} served without caching it: {Reason}")]
        public static partial void PassThrough(ILogger logger, string path, string reason);

        [LoggerMessage(EventIds.BlockUnreadable, LogLevel.Warning, "Could not read block file {Path}; fetching it from the remote")]
        public static partial void BlockUnreadable(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventIds.BlockDeleteFailed, LogLevel.Warning, "Could not delete block file {Path}")]
        public static partial void DeleteFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventIds.CacheIndexLoaded, LogLevel.Information, "Block cache index loaded: {Blocks} blocks, {Bytes} bytes in {Milliseconds} ms")]
        public static partial void IndexLoaded(ILogger logger, int blocks, long bytes, double milliseconds);

        [LoggerMessage(EventIds.CacheIndexLoadFailed, LogLevel.Error, "Block cache index scan of {Directory} failed; cached blocks are still found on read")]
        public static partial void IndexLoadFailed(ILogger logger, string directory, Exception exception);
    }
}
