using System.Collections.Concurrent;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>Settings of <see cref="ObjectReader"/>.</summary>
internal sealed record ObjectReaderOptions
{
    /// <summary>Global budget for blocks held in memory beyond the one a reader is writing (read-ahead and pipelining).</summary>
    public long ReadAheadMemoryBytes { get; init; } = SidecarDefaults.ReadAheadMemoryBytes;

    /// <summary>Largest background read-ahead window, in blocks.</summary>
    public int MaxReadAheadBlocks { get; init; } = 8;

    /// <summary>
    /// Blocks one CopyToAsync keeps in flight ahead of its writer. 16 × 4 MiB: against a store that gives one stream
    /// ~32 MiB/s and ~20 ms per request, 8 streams were the limit of a cold sequential GET (bench (c')); the memory
    /// budget still bounds the blocks held beyond the one being written.
    /// </summary>
    public int MaxParallelBlocksPerRead { get; init; } = 16;

    /// <summary>Blocks one WarmAsync fetches at once (the cache's prefetch limiter bounds all of them together).</summary>
    public int WarmParallelism { get; init; } = 4;

    public static ObjectReaderOptions From(CacheConfig cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.ReadAheadMemoryBytes < 0)
        {
            throw new ArgumentException($"cache.readAheadMemoryBytes is {cache.ReadAheadMemoryBytes}; expected 0 or more (0 = no read-ahead)", nameof(cache));
        }

        return new ObjectReaderOptions { ReadAheadMemoryBytes = cache.ReadAheadMemoryBytes };
    }
}

/// <summary>
/// Maps byte ranges of objects onto cache blocks. <see cref="CopyToAsync"/> streams a range block by block while
/// the next blocks are already being fetched; every read feeds a <see cref="ReadPatternTracker"/> whose window
/// drives background read-ahead past the range; <see cref="WarmAsync"/> fills the cache for prefetch. Blocks held
/// ahead of a writer and read-ahead fetches draw from one global memory budget, counted in blocks.
/// </summary>
internal sealed partial class ObjectReader : IObjectReader, IAsyncDisposable
{
    /// <summary>
    /// Piece size for streaming cached blocks: a multiple of the 64 KiB CRC chunk, so no chunk is read twice. Each
    /// piece opens the block file and checks its header; 1 MiB pieces cost a quarter of the opens and header checks
    /// of 256 KiB ones (bench (a)) for 768 KiB more per warm reader.
    /// </summary>
    internal const int StreamPieceSize = 1024 * 1024;

    private readonly IBlockCache _cache;
    private readonly ObjectReaderOptions _options;
    private readonly ILogger _logger;
    private readonly ReadPatternTracker _tracker;

    // One unit = one block of memory. Never waited on: beyond the block a reader needs now, work that finds the
    // budget empty is simply not started (read-ahead is an optimisation; it must not queue memory).
    private readonly SemaphoreSlim _memoryBudget;
    private readonly ConcurrentDictionary<BlockKey, byte> _readAheadInFlight = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationToken _lifetimeToken;
    private int _disposed;
    private long _readAheadStarted;
    private long _readAheadSkippedForBudget;

    public ObjectReader(IBlockCache cache, ObjectReaderOptions options, ILogger<ObjectReader> logger, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(options);
        _cache = cache;
        _options = options;
        _logger = logger;
        _lifetimeToken = _lifetime.Token;
        _tracker = new ReadPatternTracker(Math.Max(1, options.MaxReadAheadBlocks), cache.BlockSize, timeProvider);
        var budgetBlocks = (int)Math.Min(int.MaxValue, options.ReadAheadMemoryBytes / cache.BlockSize);
        _memoryBudget = new SemaphoreSlim(budgetBlocks, Math.Max(1, budgetBlocks));
    }

    /// <summary>Background read-ahead fetches started since start-up.</summary>
    public long ReadAheadStarted => Interlocked.Read(ref _readAheadStarted);

    /// <summary>Background read-ahead fetches not finished yet (stored or failed).</summary>
    public int ReadAheadInFlight => _readAheadInFlight.Count;

    /// <summary>Read-ahead or pipelined blocks not started because the memory budget was spent.</summary>
    public long ReadAheadSkippedForBudget => Interlocked.Read(ref _readAheadSkippedForBudget);

    public async Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(destination);
        CheckRange(obj, offset, length);
        if (length == 0)
        {
            return;
        }

        var blockSize = _cache.BlockSize;
        var end = offset + length;
        var firstBlock = offset / blockSize;
        var lastBlock = (end - 1) / blockSize;
        var window = _tracker.OnRead(dataset.Name, obj.Key, offset, length);

        // Blocks ahead of the writer, in order. A block cached at planning time is streamed from disk in pieces
        // when its turn comes (no memory held ahead); a missing one is fetched now. The head of the queue never
        // needs budget (the reader always makes progress); other fetches hold one budget unit until written.
        var pending = new Queue<(Task<BlockSlice>? Fetch, bool HoldsBudget)>();
        var next = firstBlock;
        try
        {
            for (var block = firstBlock; block <= lastBlock; block++)
            {
                while (next <= lastBlock && pending.Count < _options.MaxParallelBlocksPerRead)
                {
                    if (_cache.Contains(KeyOf(dataset, obj, next)))
                    {
                        pending.Enqueue((null, false));
                        next++;
                        continue;
                    }

                    var holdsBudget = pending.Count > 0;
                    if (holdsBudget && !_memoryBudget.Wait(0))
                    {
                        Interlocked.Increment(ref _readAheadSkippedForBudget);
                        break;
                    }

                    var (from, to) = RangeInBlock(obj, next, offset, end);
                    pending.Enqueue((GetSliceAsync(dataset, obj, next, from, to, cancellationToken).AsTask(), holdsBudget));
                    next++;
                }

                var (fetch, holds) = pending.Dequeue();
                try
                {
                    if (fetch is null)
                    {
                        await CopyCachedBlockAsync(dataset, obj, block, offset, end, destination, cancellationToken);
                    }
                    else
                    {
                        using var slice = await fetch;
                        await destination.WriteAsync(slice.Bytes, cancellationToken);
                    }
                }
                finally
                {
                    if (holds)
                    {
                        _memoryBudget.Release();
                    }
                }
            }
        }
        finally
        {
            // On failure or cancellation, blocks already requested still arrive: return their buffers.
            while (pending.TryDequeue(out var abandoned))
            {
                if (abandoned.Fetch is not null)
                {
                    _ = ReleaseWhenDoneAsync(abandoned.Fetch, abandoned.HoldsBudget ? _memoryBudget : null);
                }
            }
        }

        ScheduleReadAhead(dataset, obj, lastBlock + 1, window);
    }

    public async ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(obj);
        if (offset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "expected a non-negative offset");
        }

        var length = (int)Math.Min(destination.Length, Math.Max(0, obj.Size - offset));
        if (length == 0)
        {
            return 0;
        }

        var blockSize = _cache.BlockSize;
        var end = offset + length;
        var firstBlock = offset / blockSize;
        var lastBlock = (end - 1) / blockSize;
        var window = _tracker.OnRead(dataset.Name, obj.Key, offset, length);

        if (firstBlock == lastBlock)
        {
            var (from, to) = RangeInBlock(obj, firstBlock, offset, end);
            using var slice = await GetSliceAsync(dataset, obj, firstBlock, from, to, cancellationToken);
            slice.Bytes.CopyTo(destination);
        }
        else
        {
            // A read spanning blocks (large FUSE reads): fetch them together, copy in order.
            var slices = new Task<BlockSlice>?[lastBlock - firstBlock + 1];
            for (var i = 0; i < slices.Length; i++)
            {
                var (from, to) = RangeInBlock(obj, firstBlock + i, offset, end);
                slices[i] = GetSliceAsync(dataset, obj, firstBlock + i, from, to, cancellationToken).AsTask();
            }

            try
            {
                var written = 0;
                for (var i = 0; i < slices.Length; i++)
                {
                    var task = slices[i]!;
                    slices[i] = null;
                    using var slice = await task;
                    slice.Bytes.CopyTo(destination[written..]);
                    written += slice.Bytes.Length;
                }
            }
            finally
            {
                foreach (var abandoned in slices)
                {
                    if (abandoned is not null)
                    {
                        _ = ReleaseWhenDoneAsync(abandoned, null);
                    }
                }
            }
        }

        ScheduleReadAhead(dataset, obj, lastBlock + 1, window);
        return length;
    }

    public async Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(obj);
        var blockCount = BlockCount(obj);
        long fetched = 0;
        await Parallel.ForEachAsync(
            LongRange(blockCount),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.WarmParallelism), CancellationToken = cancellationToken },
            async (block, ct) =>
            {
                if (_cache.Contains(KeyOf(dataset, obj, block)))
                {
                    return;
                }

                using var lease = await GetBlockAsync(dataset, obj, block, BlockPriority.Prefetch, ct);
                if (!lease.FromCache)
                {
                    Interlocked.Add(ref fetched, lease.Memory.Length);
                }
            });
        return fetched;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync();
        _lifetime.Dispose();
    }

    /// <summary>Starts background fetches of up to <paramref name="window"/> blocks from <paramref name="fromBlock"/>.</summary>
    private void ScheduleReadAhead(Dataset dataset, RemoteObject obj, long fromBlock, int window)
    {
        if (window <= 0 || _lifetimeToken.IsCancellationRequested)
        {
            return;
        }

        var until = Math.Min(BlockCount(obj), fromBlock + window);
        for (var block = fromBlock; block < until; block++)
        {
            var key = KeyOf(dataset, obj, block);
            if (_cache.Contains(key) || !_readAheadInFlight.TryAdd(key, 0))
            {
                continue;
            }

            if (!_memoryBudget.Wait(0))
            {
                _readAheadInFlight.TryRemove(key, out _);
                Interlocked.Increment(ref _readAheadSkippedForBudget);
                return;
            }

            Interlocked.Increment(ref _readAheadStarted);
            _ = ReadAheadAsync(dataset, obj, block, key);
        }
    }

    private async Task ReadAheadAsync(Dataset dataset, RemoteObject obj, long block, BlockKey key)
    {
        try
        {
            using var lease = await GetBlockAsync(dataset, obj, block, BlockPriority.ReadAhead, _lifetimeToken);
        }
        catch (OperationCanceledException) when (_lifetimeToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception e)
        {
            // Nobody waits on read-ahead: a reader that needs the block fetches it again and sees the error.
            Log.ReadAheadFailed(_logger, dataset.Name, obj.Key, block, e);
        }
        finally
        {
            _readAheadInFlight.TryRemove(key, out _);
            _memoryBudget.Release();
        }
    }

    /// <summary>
    /// Writes the part of a cached block inside [offset, end) straight from disk, <see cref="StreamPieceSize"/> at
    /// a time, so serving a cached object holds one piece per reader rather than one block. A block evicted or
    /// found damaged midway is fetched for the rest.
    /// </summary>
    private async ValueTask CopyCachedBlockAsync(Dataset dataset, RemoteObject obj, long block, long offset, long end, Stream destination, CancellationToken cancellationToken)
    {
        var (from, to) = RangeInBlock(obj, block, offset, end);
        var blockLength = BlockLength(obj, block);
        var key = KeyOf(dataset, obj, block);
        var position = from;
        while (position < to)
        {
            var pieceEnd = Math.Min(to, ((position / StreamPieceSize) + 1) * StreamPieceSize);
            using var piece = _cache.TryReadCached(key, blockLength, position, pieceEnd - position, continuation: position != from);
            if (piece is null)
            {
                break;
            }

            await destination.WriteAsync(piece.Memory, cancellationToken);
            position = pieceEnd;
        }

        if (position < to)
        {
            using var rest = await GetSliceAsync(dataset, obj, block, position, to, cancellationToken);
            await destination.WriteAsync(rest.Bytes, cancellationToken);
        }
    }

    /// <summary>
    /// Bytes [from, to) of one block: a partial range that is cached is read alone (only its chunks, CRC-checked);
    /// anything else goes through the whole block (fetched once, shared by concurrent readers, then stored).
    /// </summary>
    private async ValueTask<BlockSlice> GetSliceAsync(Dataset dataset, RemoteObject obj, long block, int from, int to, CancellationToken cancellationToken)
    {
        var blockLength = BlockLength(obj, block);
        if (to - from < blockLength && _cache.TryReadCached(KeyOf(dataset, obj, block), blockLength, from, to - from) is { } cached)
        {
            return new BlockSlice(cached, 0, to - from);
        }

        var lease = await GetBlockAsync(dataset, obj, block, BlockPriority.OnDemand, cancellationToken);
        return new BlockSlice(lease, from, to - from);
    }

    private (int From, int To) RangeInBlock(RemoteObject obj, long block, long offset, long end)
    {
        var blockStart = block * _cache.BlockSize;
        var blockEnd = blockStart + BlockLength(obj, block);
        return ((int)(Math.Max(offset, blockStart) - blockStart), (int)(Math.Min(end, blockEnd) - blockStart));
    }

    private int BlockLength(RemoteObject obj, long block) => (int)Math.Min(_cache.BlockSize, obj.Size - (block * _cache.BlockSize));

    private ValueTask<BlockLease> GetBlockAsync(Dataset dataset, RemoteObject obj, long block, BlockPriority priority, CancellationToken cancellationToken)
    {
        var blockSize = _cache.BlockSize;
        var start = block * blockSize;
        var length = (int)Math.Min(blockSize, obj.Size - start);
        var source = dataset.Source;
        return _cache.GetAsync(
            KeyOf(dataset, obj, block),
            length,
            (destination, ct) => source.ReadAsync(obj, start, destination, ct),
            priority,
            cancellationToken);
    }

    private static BlockKey KeyOf(Dataset dataset, RemoteObject obj, long block) => new(dataset.Source.Identity, obj.Key, obj.ETag, block);

    private long BlockCount(RemoteObject obj) => (obj.Size + _cache.BlockSize - 1) / _cache.BlockSize;

    private static IEnumerable<long> LongRange(long count)
    {
        for (long i = 0; i < count; i++)
        {
            yield return i;
        }
    }

    private static void CheckRange(RemoteObject obj, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (offset < 0 || length < 0 || offset > obj.Size - length)
        {
            throw new ArgumentOutOfRangeException(
                nameof(offset),
                $"range [{offset}, {offset}+{length}) is outside object '{obj.Key}' of {obj.Size} bytes");
        }
    }

    private static async Task ReleaseWhenDoneAsync(Task<BlockSlice> slice, SemaphoreSlim? budget)
    {
        try
        {
            (await slice).Dispose();
        }
        catch (Exception)
        {
            // The reader already failed or gave up; this block's own error has nobody to go to.
        }
        finally
        {
            budget?.Release();
        }
    }

    /// <summary>The bytes a reader wants out of one lease (a whole block, or just a cached sub-range).</summary>
    private readonly struct BlockSlice(BlockLease lease, int skip, int length) : IDisposable
    {
        public ReadOnlyMemory<byte> Bytes => lease.Memory.Slice(skip, length);

        public void Dispose() => lease.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Read-ahead of block {Block} of {Dataset}/{Key} failed")]
        public static partial void ReadAheadFailed(ILogger logger, string dataset, string key, long block, Exception exception);
    }
}
