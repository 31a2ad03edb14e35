using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The block cache on a local directory, as a coordinator of parts with one job each: a hit is a verified read of a
/// block file (<see cref="BlockStore"/>); a miss joins or starts the block's flight (<see cref="BlockFlightTable"/>),
/// whose fetch goes to the source (<see cref="BlockSourceFetcher"/>) and is stored before its readers are released;
/// runs of adjacent misses go out as spans (<see cref="BlockRunFetcher"/>); room is made by
/// <see cref="BlockEviction"/>; the index is rebuilt by a background scan (<see cref="BlockIndexScanner"/>) so
/// start-up never waits for it. See README.md in this folder.
/// </summary>
internal sealed partial class DiskBlockCache : IBlockCache, IAsyncDisposable, IDisposable
{
    private readonly DiskBlockCacheOptions _options;
    private readonly ILogger _logger;
    private readonly BlockStore _store;
    private readonly BlockFileStore _files;
    private readonly BlockEviction _eviction;
    private readonly BlockIndex _index = new();
    private readonly BlockFlightTable _flights = new();
    private readonly BlockSourceFetcher _source;
    private readonly BlockRunFetcher _runs;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _indexLoadStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _indexLoad;
    private volatile bool _disposed;
    private int _disposeStarted;

    private long _hits;
    private long _misses;

    public DiskBlockCache(DiskBlockCacheOptions options, ILogger<DiskBlockCache> logger, TimeProvider timeProvider, ISharedBlockTier? sharedTier = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger;

        var blocksDirectory = Path.Combine(Path.GetFullPath(options.Directory), "blocks");
        DriveInfo? drive = null;
        var diskUsable = false;
        try
        {
            Directory.CreateDirectory(blocksDirectory);
            drive = new DriveInfo(blocksDirectory);
            diskUsable = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A cache that cannot use its directory still serves: every read passes through to the remote.
            Log.DirectoryUnusable(_logger, blocksDirectory, e);
        }

        _files = new BlockFileStore(blocksDirectory, _index, timeProvider, logger, options.OpenFilesKept);
        _eviction = new BlockEviction(_index, _files, options.QuotaBytes, options.MinFreeBytes, drive is null ? null : () => drive.AvailableFreeSpace);
        _store = new BlockStore(_index, _files, _eviction, diskUsable, logger);
        _source = new BlockSourceFetcher(
            new FetchSlots(options.OnDemandFetchConcurrency, options.ReadAheadFetchConcurrency, options.PrefetchFetchConcurrency),
            _lifetime.Token,
            sharedTier is null ? null : new SharedTierLookup(sharedTier, options.BlockSize));
        _runs = new BlockRunFetcher(_store, _flights, _source, options.BlockSize, options.TierHandOffPatience);

        if (diskUsable)
        {
            _indexLoad = LoadIndexWhenStartedAsync(new BlockIndexScanner(_files, _index, _eviction, logger, _lifetime.Token));
            if (!options.DeferIndexLoad)
            {
                StartIndexLoad();
            }
        }
        else
        {
            _store.CompleteIndexLoad();
            _indexLoad = Task.CompletedTask;
        }
    }

    /// <summary>
    /// Test hook: awaited by the start-up scan after it has listed the block files and before it indexes them, so
    /// a test can interleave an invalidation or a read with the scan deterministically. Set it before
    /// <see cref="StartIndexLoad"/>.
    /// </summary>
    internal Func<Task>? ScanListedHook { get; set; }

    /// <summary>
    /// Called once the start-up scan has finished and left its garbage behind; the host's memory trimmer decides
    /// whether to collect it. Tests replace it to observe this instance's report alone.
    /// </summary>
    internal Action ReportScanGarbage { get; set; } = ReclaimableMemory.Report;

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
        var lease = _store.TryReadLease(key, path: null, length, 0, length);
        if (lease is not null)
        {
            Interlocked.Increment(ref _hits);
            return new ValueTask<BlockLease>(lease);
        }

        Interlocked.Increment(ref _misses);
        return FetchAsync(key, _store.PathOf(key), length, fetch, priority, cancellationToken);
    }

    public BlockLease? TryReadCached(BlockKey key, int blockLength, int offset, int count, bool continuation = false)
    {
        CheckRange(blockLength, offset, count);
        var lease = _store.TryReadLease(key, path: null, blockLength, offset, count);
        if (lease is not null && !continuation)
        {
            Interlocked.Increment(ref _hits);
        }

        return lease;
    }

    public bool TryReadCachedInto(BlockKey key, int blockLength, int offset, Span<byte> destination, bool continuation = false)
    {
        CheckRange(blockLength, offset, destination.Length);
        var read = _store.TryReadInto(key, path: null, blockLength, offset, destination);
        if (read && !continuation)
        {
            Interlocked.Increment(ref _hits);
        }

        return read;
    }

    private void CheckRange(int blockLength, int offset, int count)
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
    }

    public bool Contains(BlockKey key) => _store.Contains(key);

    public void Invalidate(string sourceIdentity, string objectKey)
    {
        ArgumentNullException.ThrowIfNull(sourceIdentity);
        ArgumentNullException.ThrowIfNull(objectKey);
        _store.Invalidate(sourceIdentity, objectKey);
    }

    public IReadOnlyList<Task> FetchRun(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
    {
        CheckRun(count, lastBlockLength, fetchRun);
        return _runs.FetchRun(first, count, lastBlockLength, fetchRun, priority);
    }

    public IReadOnlyList<Task<BlockLease?>> FetchRunInOrder(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
    {
        CheckRun(count, lastBlockLength, fetchRun);
        return _runs.FetchRunInOrder(first, count, lastBlockLength, fetchRun, priority);
    }

    private void CheckRun(int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(fetchRun);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (lastBlockLength <= 0 || lastBlockLength > _options.BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(lastBlockLength), lastBlockLength, $"a block holds 1..{_options.BlockSize} bytes");
        }
    }

    public CacheStatistics GetStatistics() => new(
        Blocks: _index.Count,
        UsedBytes: _index.UsedBytes,
        QuotaBytes: _options.QuotaBytes,
        Hits: Interlocked.Read(ref _hits),
        Misses: Interlocked.Read(ref _misses) + _runs.Misses,
        Evictions: _eviction.Evictions,
        CorruptBlocksDropped: _files.CorruptBlocks,
        PassThroughFills: _store.PassThroughFills,
        IndexLoaded: _store.IndexLoaded)
    {
        RemoteFetches = _source.Blocks,
        RemoteBytes = _source.Bytes,
        SingleFlightJoins = _flights.Joins,
        RemoteRequests = _source.Requests,
        SharedTierHits = _source.Tier?.Hits ?? 0,
        SharedTierHandedOver = _runs.HandedOver,
        OpenBlockFiles = _files.OpenFiles,
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
        _files.CloseOpenFiles();
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
            switch (_flights.JoinOrStart(key, length, priority, out var flight))
            {
                case FlightClaim.Joined:
                    return await BlockFlightTable.AwaitLeaseAsync(flight, cancellationToken);
                case FlightClaim.Started:
                    _ = RunFlightAsync(key, path, flight, fetch);
                    return await BlockFlightTable.AwaitLeaseAsync(flight, cancellationToken);
                default:
                    // That flight has just finished and left the table: its block is on disk now (or passed through).
                    if (_store.TryReadLease(key, path, length, 0, length) is { } lease)
                    {
                        return lease;
                    }

                    continue;
            }
        }
    }

    private async Task RunFlightAsync(BlockKey key, string path, BlockFlight flight, Func<Memory<byte>, CancellationToken, ValueTask> fetch)
    {
        try
        {
            // A flight that ended between this reader's disk miss and the start of this one stored the block:
            // read it instead of fetching it a second time.
            if (_store.MayBeOnDisk(key) && _store.TryReadInto(key, path, flight.AllocatePayload().Span))
            {
                flight.FromDisk = true;
                flight.Complete();
                return;
            }

            var payload = await _source.FetchBlockAsync(key, flight, fetch);

            // Stored before readers are released: when GetAsync returns, the block is on disk (or passed through),
            // so an Invalidate or a Contains after a read sees it. The write goes to the page cache: ~1 ms per 4 MiB.
            _store.Store(key, path, payload.Span);
            flight.Complete();
        }
        catch (Exception e)
        {
            flight.Fail(e);
        }
        finally
        {
            _flights.End(key, flight);
        }
    }

    private async Task LoadIndexWhenStartedAsync(BlockIndexScanner scanner)
    {
        await _indexLoadStarted.Task.WaitAsync(_lifetime.Token);
        await Task.Run(() => LoadIndexAsync(scanner), _lifetime.Token);
    }

    private async Task LoadIndexAsync(BlockIndexScanner scanner)
    {
        var scanned = false;
        try
        {
            scanned = await scanner.ScanAsync(ScanListedHook);
        }
        finally
        {
            _store.CompleteIndexLoad();
        }

        if (scanned)
        {
            // The scan left megabytes of garbage (and the index's grown table, dropped by CompleteIndexLoad) that a
            // quiet sidecar would keep resident for a long time; the host decides when to collect it.
            ReportScanGarbage();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CacheDirectoryUnusable, LogLevel.Error, "Block cache directory {Directory} is unusable; every read passes through to the remote")]
        public static partial void DirectoryUnusable(ILogger logger, string directory, Exception exception);
    }
}
