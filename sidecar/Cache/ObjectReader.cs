using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
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

    /// <summary>
    /// Largest read-ahead window, in blocks: how far ahead of a sequential reader (a FUSE reader's background
    /// read-ahead, or a GET's pipeline) blocks are being fetched. 64 × 4 MiB = 256 MiB. A span holds one block buffer
    /// while it streams (the rest goes to disk), so the window costs disk bandwidth, not memory.
    /// </summary>
    public int MaxReadAheadBlocks { get; init; } = 64;

    /// <summary>
    /// Largest range one remote request fetches for a run of adjacent missing blocks (rounded down to whole blocks,
    /// at least one). Stores with a per-request cost (moto materialises the object per GET; every store has a
    /// first-byte latency) pay it once per span instead of once per block.
    /// </summary>
    public long MaxSpanBytes { get; init; } = SidecarDefaults.FetchSpanBytes;

    /// <summary>
    /// Smallest span a read-ahead window is cut into (rounded down to whole blocks, at least one): 8 MiB, the low
    /// end of the 8-16 MB ranges AWS recommends for parallel GETs, so a short window is not split into requests
    /// that cost more in first-byte latency than they gain in parallelism.
    /// </summary>
    public long MinSpanBytes { get; init; } = 8L * 1024 * 1024;

    /// <summary>
    /// Parallel ranged GETs (streams) a sequential reader's window is cut into (`cache.readAheadStreams`). A remote
    /// gives each stream a bounded rate, so the streams, not the span length, set a cold read's speed; the figures
    /// behind the default are at <see cref="SidecarDefaults.ReadAheadStreams"/>.
    /// </summary>
    public int ReadAheadStreams { get; init; } = SidecarDefaults.ReadAheadStreams;

    /// <summary>
    /// The longest read-ahead window of a long sequential run (`cache.readAheadMaxBytes`): the window grows past
    /// <see cref="MaxReadAheadBlocks"/> only as far as the run has read, and its spans lengthen with it (the window
    /// divided among the streams, up to <see cref="MaxSpanBytes"/>), so a long cold read costs fewer, longer ranged
    /// GETs while a reader who stops early has cost at most what it read. A GET's pipeline ahead of its writer is
    /// bounded by it too.
    /// </summary>
    public long ReadAheadMaxBytes { get; init; } = SidecarDefaults.ReadAheadMaxBytes;

    /// <summary>
    /// Whether span length follows what the remote rewards (<see cref="RemoteRequestCost"/>): on (the default, when
    /// `cache.fetchSpanBytes` is not set), a remote whose first byte costs more than its streams gain gets fewer,
    /// longer spans, up to the whole window; off, spans stay between <see cref="MinSpanBytes"/> and
    /// <see cref="MaxSpanBytes"/> whatever the remote (a configured `fetchSpanBytes` is a hard bound).
    /// </summary>
    public bool SpansFollowRemoteCost { get; init; }

    /// <summary>The shortest request body <see cref="RemoteRequestCost"/> learns from (tests with small blocks scale it down).</summary>
    public long ShortestCostSampleBytes { get; init; } = RemoteRequestCost.DefaultShortestSampleBytes;

    /// <summary>Spans one WarmAsync fetches at once (the cache's prefetch limiter bounds all of them together).</summary>
    public int WarmParallelism { get; init; } = 4;

    /// <summary>
    /// Memory all prefetch spans together may hold: each holds one block buffer (a small file's whole size, else a
    /// block) while it streams. 32 MiB = 8 spans of 4 MiB blocks (what 8 prefetch workers held before), or 128
    /// small files of 256 KiB: the request count for many small files is bounded by the workers, not by memory.
    /// </summary>
    public long PrefetchMemoryBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Blocks per span for <paramref name="blockSize"/>-byte blocks: the longest a span may be.</summary>
    public int SpanBlocks(int blockSize) => (int)Math.Clamp(MaxSpanBytes / blockSize, 1, MaxSpanBlocks);

    /// <summary>The longest read-ahead window, in blocks (at least one).</summary>
    public int MaxWindowBlocks(int blockSize) => (int)Math.Clamp(ReadAheadMaxBytes / blockSize, 1, int.MaxValue);

    /// <summary>
    /// Blocks per span when a window of <paramref name="windowBlocks"/> blocks is cut into
    /// <see cref="ReadAheadStreams"/> spans: at least <see cref="MinSpanBytes"/>, at most <see cref="SpanBlocks"/>. A
    /// long run's window is longer, so its spans are too. <paramref name="worthwhileBlocks"/> (0 = unknown, or spans do
    /// not follow the remote) is the shortest span the remote makes worth a request: the spans are at least that
    /// long, past <see cref="SpanBlocks"/> if need be, but never longer than the window, so fewer streams share it.
    /// </summary>
    public int SpanBlocksFor(long windowBlocks, int blockSize, long worthwhileBlocks = 0)
    {
        var streams = Math.Max(1, ReadAheadStreams);
        var even = (windowBlocks + streams - 1) / streams;
        var shortest = Math.Max(1, MinSpanBytes / blockSize);
        long longest = SpanBlocks(blockSize);
        if (worthwhileBlocks > 0)
        {
            var worthwhile = Math.Min(worthwhileBlocks, Math.Max(1, windowBlocks));
            shortest = Math.Max(shortest, worthwhile);
            longest = Math.Max(longest, worthwhile);
        }

        return (int)Math.Clamp(Math.Max(even, shortest), 1, Math.Min(longest, MaxSpanBlocks));
    }

    /// <summary>The longest span any setting may ask for, in blocks (4 GiB of 4 MiB blocks).</summary>
    internal const int MaxSpanBlocks = 1024;

    /// <summary>The reader's settings from a cache config that <c>SidecarConfigValidator</c> has accepted (ranges are checked there).</summary>
    public static ObjectReaderOptions From(CacheConfig cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return new ObjectReaderOptions
        {
            ReadAheadMemoryBytes = cache.ReadAheadMemoryBytes,
            MaxSpanBytes = cache.FetchSpanBytes ?? SidecarDefaults.FetchSpanBytes,
            ReadAheadStreams = cache.ReadAheadStreams ?? SidecarDefaults.ReadAheadStreams,
            ReadAheadMaxBytes = cache.ReadAheadMaxBytes ?? SidecarDefaults.ReadAheadMaxBytes,
            SpansFollowRemoteCost = cache.FetchSpanBytes is null,
        };
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
    private readonly ByteBudget _prefetchMemory;
    private readonly ConcurrentDictionary<BlockKey, byte> _readAheadInFlight = new();
    // What a request to each remote costs, learned from its spans (a source is one dataset's remote, for the life of
    // its config generation; a reload's new source learns afresh).
    private readonly ConditionalWeakTable<IObjectSource, RemoteRequestCost> _remoteCosts = new();
    // Spans of each object sent and not answered yet (the remote not judged by them, not ended): see AwaitsFirstAnswer.
    private readonly ConcurrentDictionary<(string Dataset, string Key), int> _unansweredSpans = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationToken _lifetimeToken;
    private readonly int _shortRunWindowBlocks;
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
        // The window holds at least two spans, so a span can start while the previous one is still streaming.
        var spanBlocks = options.SpanBlocks(cache.BlockSize);
        var maxWindow = options.MaxWindowBlocks(cache.BlockSize);
        var shortRunWindow = Math.Min(maxWindow, Math.Max(Math.Max(1, options.MaxReadAheadBlocks), 2 * spanBlocks));
        _tracker = new ReadPatternTracker(Math.Max(maxWindow, shortRunWindow), cache.BlockSize, timeProvider, shortRunWindow);
        _shortRunWindowBlocks = shortRunWindow;
        var budgetBlocks = (int)Math.Min(int.MaxValue, options.ReadAheadMemoryBytes / cache.BlockSize);
        _memoryBudget = new SemaphoreSlim(budgetBlocks, Math.Max(1, budgetBlocks));
        _prefetchMemory = new ByteBudget(Math.Max(1, options.PrefetchMemoryBytes));
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
        var worthwhileBlocks = WorthwhileSpanBlocks(dataset.Source);
        var window = _tracker.OnRead(dataset.Name, obj.Key, offset, length, worthwhileBlocks);

        // Blocks ahead of the writer, in order. A block cached at planning time is streamed from disk in pieces
        // when its turn comes; a run of missing blocks is fetched now as one span (one ranged GET) that stores each
        // block as it arrives, and the writer streams it from disk once stored. So memory is one block per span in
        // flight, not one per block ahead. The span at the head of the queue needs no budget (the reader always
        // makes progress); every other span holds one budget unit until its last block is written.
        var pending = new Queue<PendingBlock>();
        // The range ahead (up to the read-ahead window) is cut into ReadAheadStreams spans fetched side by side.
        var spansPerRead = Math.Max(1, _options.ReadAheadStreams);
        // The client asked for the whole range: the window is the range, up to the longest read-ahead window.
        var rangeWindow = Math.Min(lastBlock - firstBlock + 1, _options.MaxWindowBlocks(blockSize));
        var spanBlocks = _options.SpanBlocksFor(rangeWindow, blockSize, worthwhileBlocks);
        var maxAhead = spanBlocks * spansPerRead;
        var spansQueued = 0; // spans with a block not yet written: at most spansPerRead requests per reader
        var next = firstBlock;
        try
        {
            for (var block = firstBlock; block <= lastBlock; block++)
            {
                while (next <= lastBlock && pending.Count < maxAhead)
                {
                    if (_cache.Contains(KeyOf(dataset, obj, next)))
                    {
                        pending.Enqueue(new PendingBlock(null, null, false));
                        next++;
                        continue;
                    }

                    if (spansQueued >= spansPerRead)
                    {
                        break;
                    }

                    if (spansQueued > 0 && worthwhileBlocks != WorthwhileSpanBlocks(dataset.Source))
                    {
                        // The remote answered meanwhile: cut the rest of the range by what it is worth now.
                        worthwhileBlocks = WorthwhileSpanBlocks(dataset.Source);
                        spanBlocks = _options.SpanBlocksFor(rangeWindow, blockSize, worthwhileBlocks);
                        maxAhead = Math.Max(maxAhead, spanBlocks * spansPerRead);
                    }

                    if (spansQueued > 0 && AwaitsFirstAnswer(dataset, obj, worthwhileBlocks, rangeWindow))
                    {
                        break;
                    }

                    var count = 1;
                    while (count < spanBlocks && next + count <= lastBlock && !_cache.Contains(KeyOf(dataset, obj, next + count)))
                    {
                        count++;
                    }

                    var budget = pending.Count > 0 ? _memoryBudget : null;
                    if (budget is not null && !budget.Wait(0))
                    {
                        Interlocked.Increment(ref _readAheadSkippedForBudget);
                        break;
                    }

                    // In order: a block the shared tier answers may come as a lease in memory, not through the disk.
                    var handed = FetchSpan(dataset, obj, next, count, BlockPriority.OnDemand, _cache.FetchRunInOrder);
                    for (var i = 0; i < count; i++)
                    {
                        pending.Enqueue(new PendingBlock(handed[i], i == count - 1 ? budget : null, i == count - 1));
                    }

                    spansQueued++;
                    next += count;
                }

                var head = pending.Dequeue();
                try
                {
                    using var lease = head.Handed is { } handed ? await TakeHandedAsync(handed, cancellationToken) : null;
                    if (lease is not null)
                    {
                        await CopyHandedBlockAsync(lease, obj, block, offset, end, destination, cancellationToken);
                    }
                    else
                    {
                        // From disk; a block the span could not store (failed, passed through, evicted meanwhile) is
                        // fetched alone here, and that fetch reports the remote's error if there is one.
                        await CopyCachedBlockAsync(dataset, obj, block, offset, end, destination, cancellationToken);
                    }
                }
                finally
                {
                    head.Budget?.Release();
                    if (head.LastOfSpan)
                    {
                        spansQueued--;
                    }
                }
            }
        }
        finally
        {
            // On failure or cancellation, spans already started still run to the disk: give their budget back then,
            // and let go of every block they hand over meanwhile (the span reads no further block until then).
            while (pending.TryDequeue(out var abandoned))
            {
                if (abandoned.Handed is { } handed)
                {
                    _ = LetGoWhenHandedAsync(handed, abandoned.Budget);
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
        var window = _tracker.OnRead(dataset.Name, obj.Key, offset, length, WorthwhileSpanBlocks(dataset.Source));

        // A sequential reader's own missing blocks go out in the same span as the read-ahead behind them: one
        // request instead of two, and the reader still waits only for its own block (it joins that block's flight,
        // raising the span to on-demand priority).
        if (window > 0)
        {
            ScheduleReadAhead(dataset, obj, firstBlock, (int)(lastBlock - firstBlock + 1) + window);
        }

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

        return length;
    }

    public async Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(obj);
        var blockCount = BlockCount(obj);
        // A remote that charges per request gets longer spans here too: prefetch reads the whole object anyway.
        var spanBlocks = (int)Math.Max(_options.SpanBlocks(_cache.BlockSize), Math.Min(WorthwhileSpanBlocks(dataset.Source), ObjectReaderOptions.MaxSpanBlocks));
        long fetched = 0;

        // Whole spans: a small file is one request, a big one a few long ranged GETs side by side.
        await Parallel.ForEachAsync(
            LongRange((blockCount + spanBlocks - 1) / spanBlocks),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.WarmParallelism), CancellationToken = cancellationToken },
            async (span, ct) =>
            {
                var first = span * spanBlocks;
                var count = (int)Math.Min(spanBlocks, blockCount - first);
                long missingBytes = 0;
                for (var block = first; block < first + count; block++)
                {
                    if (!_cache.Contains(KeyOf(dataset, obj, block)))
                    {
                        missingBytes += BlockLength(obj, block);
                    }
                }

                if (missingBytes == 0)
                {
                    return;
                }

                // The span's one block buffer comes out of the prefetch memory budget until the span has ended
                // (also when this warm-up is cancelled: the span itself runs on to the disk).
                var weight = BlockLength(obj, first);
                await _prefetchMemory.AcquireAsync(weight, ct);
                IReadOnlyList<Task> stored;
                try
                {
                    stored = FetchSpan(dataset, obj, first, count, BlockPriority.Prefetch);
                }
                catch
                {
                    _prefetchMemory.Release(weight);
                    throw;
                }

                var spanEnded = Task.WhenAll(stored);
                _ = ReleaseWhenEndedAsync(spanEnded, () => _prefetchMemory.Release(weight));
                await spanEnded.WaitAsync(ct);
                Interlocked.Add(ref fetched, missingBytes);
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

    /// <summary>
    /// Starts background spans over the blocks of [<paramref name="fromBlock"/>, +<paramref name="window"/>) that are
    /// neither cached nor already being read ahead. A short run at the far end of the window waits until the window
    /// has moved on enough to make it a full span (half the window at most): otherwise a reader that advances one
    /// block at a time would extend the window one block at a time and get one request per block again.
    /// </summary>
    private void ScheduleReadAhead(Dataset dataset, RemoteObject obj, long fromBlock, int window)
    {
        if (window <= 0 || _lifetimeToken.IsCancellationRequested)
        {
            return;
        }

        var worthwhileBlocks = WorthwhileSpanBlocks(dataset.Source);
        if (AwaitsFirstAnswer(dataset, obj, worthwhileBlocks, window))
        {
            // The reader's next reads schedule again, with what the answer taught.
            return;
        }

        var blockCount = BlockCount(obj);
        var until = Math.Min(blockCount, fromBlock + window);
        var spanBlocks = _options.SpanBlocksFor(window, _cache.BlockSize, worthwhileBlocks);
        var worthwhile = Math.Max(1, Math.Min(spanBlocks, window / 2));
        var block = fromBlock;
        while (block < until)
        {
            if (!IsReadAheadCandidate(dataset, obj, block))
            {
                block++;
                continue;
            }

            var count = 1;
            while (count < spanBlocks && block + count < until && IsReadAheadCandidate(dataset, obj, block + count))
            {
                count++;
            }

            if (count < worthwhile && block + count == until && until < blockCount && block > fromBlock)
            {
                return;
            }

            if (!_memoryBudget.Wait(0))
            {
                Interlocked.Increment(ref _readAheadSkippedForBudget);
                return;
            }

            var keys = new BlockKey[count];
            for (var i = 0; i < count; i++)
            {
                keys[i] = KeyOf(dataset, obj, block + i);
                _readAheadInFlight.TryAdd(keys[i], 0);
            }

            Interlocked.Add(ref _readAheadStarted, count);
            IReadOnlyList<Task> stored;
            try
            {
                stored = FetchSpan(dataset, obj, block, count, BlockPriority.ReadAhead);
            }
            catch
            {
                ForgetReadAhead(keys);
                _memoryBudget.Release();
                throw;
            }

            _ = ReadAheadAsync(dataset, obj, keys, stored);
            block += count;
        }
    }

    private bool IsReadAheadCandidate(Dataset dataset, RemoteObject obj, long block)
    {
        var key = KeyOf(dataset, obj, block);
        return !_readAheadInFlight.ContainsKey(key) && !_cache.Contains(key);
    }

    /// <summary>Follows one read-ahead span to its end: forgets each block as it is stored, then returns the budget unit.</summary>
    private async Task ReadAheadAsync(Dataset dataset, RemoteObject obj, BlockKey[] keys, IReadOnlyList<Task> stored)
    {
        try
        {
            for (var i = 0; i < keys.Length; i++)
            {
                try
                {
                    await stored[i];
                }
                catch (Exception e)
                {
                    // Nobody waits on read-ahead: a reader that needs the block fetches it again and sees the error.
                    Log.ReadAheadFailed(_logger, dataset.Name, obj.Key, keys[i].Index, e);
                }
                finally
                {
                    _readAheadInFlight.TryRemove(keys[i], out _);
                }
            }
        }
        finally
        {
            _memoryBudget.Release();
        }
    }

    private void ForgetReadAhead(BlockKey[] keys)
    {
        foreach (var key in keys)
        {
            _readAheadInFlight.TryRemove(key, out _);
        }
    }

    /// <summary>Blocks [first, first+count) through one span of the cache; one task per block, done when it is stored.</summary>
    private IReadOnlyList<Task> FetchSpan(Dataset dataset, RemoteObject obj, long first, int count, BlockPriority priority) =>
        FetchSpan(dataset, obj, first, count, priority, _cache.FetchRun);

    /// <summary>Blocks [first, first+count) through one span started by <paramref name="run"/> (a <see cref="IBlockCache"/> run method).</summary>
    private IReadOnlyList<T> FetchSpan<T>(Dataset dataset, RemoteObject obj, long first, int count, BlockPriority priority, SpanRun<T> run)
        where T : Task
    {
        var source = dataset.Source;
        var key = KeyOf(dataset, obj, first);
        var lastBlockLength = BlockLength(obj, first + count - 1);
        if (!_options.SpansFollowRemoteCost)
        {
            return run(key, count, lastBlockLength, (sink, ct) => source.ReadIntoAsync(obj, sink, ct), priority);
        }

        // Measured, and counted as unanswered until the remote can be judged by it (see RemoteRequestCost.MeasureAsync)
        // or it ends (a span served by the shared tier never reaches the remote; a short one never brings a rate).
        var cost = RemoteCostOf(source);
        var answered = new SpanAnswer(this, (dataset.Name, obj.Key));
        IReadOnlyList<T> stored;
        try
        {
            stored = run(
                key,
                count,
                lastBlockLength,
                (sink, ct) => cost.MeasureAsync(sink, timed => source.ReadIntoAsync(obj, timed, ct), answered.Signal),
                priority);
        }
        catch
        {
            answered.Signal();
            throw;
        }

        _ = ReleaseWhenEndedAsync(Task.WhenAll(stored), answered.Signal);
        return stored;
    }

    /// <summary>
    /// Whether new spans of <paramref name="obj"/> wait until the remote has answered one already sent: while its
    /// cost is unknown; while it is worth a whole <paramref name="windowBlocks"/>-block window per request (it wants
    /// one stream, so waiting costs nothing); and, for an object longer than the short-run window, until its own first
    /// span is answered (moto's wait grows with the object: what a 4 MiB object taught says little about a 1 GiB
    /// one). Otherwise a remote that charges per request (moto: half a second per ranged GET of a 1 GiB object,
    /// served one at a time) would be sent the short spans of a whole window before the first answer could say that
    /// one long span was worth more. A remote worth less than the window wants parallel streams, and past the first
    /// answer they are sent at once, as before.
    /// </summary>
    private bool AwaitsFirstAnswer(Dataset dataset, RemoteObject obj, long worthwhileBlocks, long windowBlocks) =>
        _options.SpansFollowRemoteCost
        && _unansweredSpans.TryGetValue((dataset.Name, obj.Key), out var unanswered)
        && unanswered > 0
        && (worthwhileBlocks == 0
            || worthwhileBlocks >= windowBlocks
            || (BlockCount(obj) > _shortRunWindowBlocks && !_tracker.WasAnswered(dataset.Name, obj.Key)));

    private void SpanUnanswered((string Dataset, string Key) id) => _unansweredSpans.AddOrUpdate(id, 1, static (_, n) => n + 1);

    private void SpanAnswered((string Dataset, string Key) id)
    {
        while (_unansweredSpans.TryGetValue(id, out var n))
        {
            if (n <= 1 ? _unansweredSpans.TryRemove(KeyValuePair.Create(id, n)) : _unansweredSpans.TryUpdate(id, n - 1, n))
            {
                _tracker.OnAnswered(id.Dataset, id.Key);
                return;
            }
        }
    }

    /// <summary>One span's "answered" mark: counted once, whether the remote was judged by it or it ended.</summary>
    private sealed class SpanAnswer
    {
        private readonly ObjectReader _reader;
        private readonly (string Dataset, string Key) _id;
        private int _signalled;

        public SpanAnswer(ObjectReader reader, (string Dataset, string Key) id)
        {
            _reader = reader;
            _id = id;
            reader.SpanUnanswered(id);
        }

        public void Signal()
        {
            if (Interlocked.Exchange(ref _signalled, 1) == 0)
            {
                _reader.SpanAnswered(_id);
            }
        }
    }

    /// <summary>What this reader has learned of <paramref name="source"/>'s request cost (tests seed it with chosen figures).</summary>
    internal RemoteRequestCost RemoteCostOf(IObjectSource source) => _remoteCosts.GetValue(source, _ => new RemoteRequestCost(_options.ShortestCostSampleBytes));

    /// <summary>The shortest span worth one request to <paramref name="source"/>, in blocks; 0 when unknown or when spans do not follow the remote.</summary>
    private long WorthwhileSpanBlocks(IObjectSource source)
    {
        if (!_options.SpansFollowRemoteCost || !_remoteCosts.TryGetValue(source, out var cost))
        {
            return 0;
        }

        var bytes = cost.WorthwhileSpanBytes;
        return bytes <= 0 ? 0 : ((bytes - 1) / _cache.BlockSize) + 1;
    }

    /// <summary>
    /// Waits for a span's block: its lease when the span handed it over in memory, null when it is on disk (or must be
    /// fetched alone: a failed fetch is not an error here, the block is fetched alone next). A lease that arrives after
    /// this reader gave up is let go of at once.
    /// </summary>
    private static async ValueTask<BlockLease?> TakeHandedAsync(Task<BlockLease?> handed, CancellationToken cancellationToken)
    {
        try
        {
            return await handed.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = LetGoWhenHandedAsync(handed, budget: null);
            throw;
        }
        catch (Exception)
        {
            // Fetched again alone by the caller, which then sees the remote's error if it persists.
            return null;
        }
    }

    /// <summary>For a block its reader gave up on: disposes the lease if one is handed over, and gives the span's budget unit back.</summary>
    private static async Task LetGoWhenHandedAsync(Task<BlockLease?> handed, SemaphoreSlim? budget)
    {
        try
        {
            (await handed)?.Dispose();
        }
        catch (Exception)
        {
            // Nothing was handed over; whoever waited for the block reports its error.
        }
        finally
        {
            budget?.Release();
        }
    }

    /// <summary>
    /// Writes the part of a block handed over in memory inside [offset, end). Into a response's pipe the bytes are
    /// copied and the lease let go of before the flush, so the span reads its next block from the tier while this one
    /// is sent.
    /// </summary>
    private async ValueTask CopyHandedBlockAsync(BlockLease lease, RemoteObject obj, long block, long offset, long end, Stream destination, CancellationToken cancellationToken)
    {
        var (from, to) = RangeInBlock(obj, block, offset, end);
        var bytes = lease.Memory[from..to];
        if (destination is PipeBody body)
        {
            await body.StartAsync(cancellationToken);
            // In pieces as large as a cached block's (contiguous memory from the pipe): PipeWriter.Write would copy
            // into the pipe's 4 KiB pool blocks one at a time, which cost a handed block more than the copy itself.
            for (var position = 0; position < bytes.Length; position += StreamPieceSize)
            {
                var piece = bytes.Span.Slice(position, Math.Min(StreamPieceSize, bytes.Length - position));
                piece.CopyTo(body.Writer.GetMemory(piece.Length).Span);
                body.Writer.Advance(piece.Length);
            }

            lease.Dispose();
            await body.CommitAsync(0, cancellationToken);
            return;
        }

        await destination.WriteAsync(bytes, cancellationToken);
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
        if (destination is PipeBody body && _cache.Contains(key))
        {
            position = await CopyCachedIntoPipeAsync(key, blockLength, from, to, body, cancellationToken);
        }

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
    /// Reads the cached block's bytes [from, to) straight into the pipe's memory, <see cref="StreamPieceSize"/> at a
    /// time, and returns how far it got: short of <paramref name="to"/> when the block is gone or damaged meanwhile
    /// (then the caller serves the rest another way, after the head is already out, as for any later block).
    /// </summary>
    private async ValueTask<int> CopyCachedIntoPipeAsync(BlockKey key, int blockLength, int from, int to, PipeBody body, CancellationToken cancellationToken)
    {
        await body.StartAsync(cancellationToken);
        var position = from;
        while (position < to)
        {
            var count = Math.Min(to, ((position / StreamPieceSize) + 1) * StreamPieceSize) - position;
            var memory = body.Writer.GetMemory(count);
            if (!_cache.TryReadCachedInto(key, blockLength, position, memory.Span[..count], continuation: position != from))
            {
                break;
            }

            await body.CommitAsync(count, cancellationToken);
            position += count;
        }

        return position;
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

    /// <summary>Gives memory back once a span or block has ended, whatever its outcome.</summary>
    private static async Task ReleaseWhenEndedAsync(Task ended, Action release)
    {
        try
        {
            await ended;
        }
        catch (Exception)
        {
            // Whoever waited for it reports its error (or gave up and no longer cares); here it only frees memory.
        }
        finally
        {
            release();
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

    /// <summary>
    /// A block ahead of the writer: null = cached at planning time; else done when its span stored it (null) or
    /// handed it over in memory (its lease).
    /// </summary>
    private readonly record struct PendingBlock(Task<BlockLease?>? Handed, SemaphoreSlim? Budget, bool LastOfSpan);

    /// <summary>One of <see cref="IBlockCache"/>'s run methods: one task per block of the run.</summary>
    private delegate IReadOnlyList<T> SpanRun<T>(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority)
        where T : Task;

    /// <summary>The bytes a reader wants out of one lease (a whole block, or just a cached sub-range).</summary>
    private readonly struct BlockSlice(BlockLease lease, int skip, int length) : IDisposable
    {
        public ReadOnlyMemory<byte> Bytes => lease.Memory.Slice(skip, length);

        public void Dispose() => lease.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ReadAheadFailed, LogLevel.Debug, "Read-ahead of block {Block} of {Dataset}/{Key} failed")]
        public static partial void ReadAheadFailed(ILogger logger, string dataset, string key, long block, Exception exception);
    }
}
