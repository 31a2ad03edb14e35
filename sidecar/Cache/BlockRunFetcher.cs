using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Span fetches: claims every block of a run of adjacent blocks that is neither stored nor in flight, and fetches
/// each maximal sub-run of claimed blocks with one request. A block is stored and its readers released the moment
/// its last byte arrives; a failure midway fails only the blocks not yet stored. With a shared tier, each claimed block
/// is asked of the tier first (in order, one buffer at a time); only the blocks it lacks go to the remote, as maximal
/// sub-runs, and the blocks another pod is fetching (its fill lease) are waited for while ours are fetched. A run for
/// an in-order reader (<see cref="FetchRunInOrder"/>) hands a block's first tier hit to that reader in memory instead
/// of storing it (README.md, "Tier hits handed to the reader").
/// </summary>
internal sealed class BlockRunFetcher
{
    private readonly BlockStore _store;
    private readonly BlockFlightTable _flights;
    private readonly BlockSourceFetcher _source;
    private readonly int _blockSize;
    private readonly TimeSpan _handOffPatience;
    private readonly Action<RunBlock, Memory<byte>> _completeBlock;
    private readonly Action<RunBlock, Exception> _failBlock;
    private readonly TierHandOffs _handOffs = new();
    private long _misses;
    private long _handedOver;

    public BlockRunFetcher(BlockStore store, BlockFlightTable flights, BlockSourceFetcher source, int blockSize, TimeSpan handOffPatience)
    {
        _handOffPatience = handOffPatience;
        _store = store;
        _flights = flights;
        _source = source;
        _blockSize = blockSize;
        _completeBlock = CompleteBlock;
        _failBlock = FailBlock;
    }

    /// <summary>Blocks of runs that were neither stored nor in flight.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Tier hits handed to a reader in memory instead of being stored.</summary>
    public long HandedOver => Interlocked.Read(ref _handedOver);

    /// <summary>One task per block of the run, done when that block is stored (or known to be).</summary>
    public IReadOnlyList<Task> FetchRun(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority) =>
        Start(first, count, lastBlockLength, fetchRun, priority, inOrder: false).Done;

    /// <summary>
    /// One task per block of the run for a reader that takes them in order: the block's lease when the tier's bytes
    /// were handed over in memory, null when it is stored or fetched elsewhere (<see cref="IBlockCache.FetchRunInOrder"/>).
    /// </summary>
    public IReadOnlyList<Task<BlockLease?>> FetchRunInOrder(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority) =>
        Start(first, count, lastBlockLength, fetchRun, priority, inOrder: true).Handed!;

    private (Task[] Done, Task<BlockLease?>[]? Handed) Start(BlockKey first, int count, int lastBlockLength, Func<RangeSink, CancellationToken, ValueTask> fetchRun, BlockPriority priority, bool inOrder)
    {
        // Claim every block that is neither on disk nor in flight by registering its flight now, before any await:
        // a reader arriving a moment later joins it instead of fetching the block a second time.
        var done = new Task[count];
        var handed = inOrder ? new Task<BlockLease?>[count] : null;
        var runs = new List<List<RunBlock>>();
        List<RunBlock>? run = null;
        for (var i = 0; i < count; i++)
        {
            var key = first with { Index = first.Index + i };
            var length = i == count - 1 ? lastBlockLength : _blockSize;
            var claimed = TryClaim(key, length, priority, inOrder, out var ready);
            if (claimed is null)
            {
                done[i] = ready;
                handed?[i] = NothingHandedAsync(ready);
                run = null;
                continue;
            }

            done[i] = claimed.Flight.Completion;
            handed?[i] = claimed.Handed!.Task;
            if (run is null)
            {
                run = [];
                runs.Add(run);
            }

            run.Add(claimed);
        }

        foreach (var blocks in runs)
        {
            _ = FetchSpanAsync(blocks, fetchRun);
        }

        return (done, handed);

        static async Task<BlockLease?> NothingHandedAsync(Task ready)
        {
            await ready;
            return null;
        }
    }

    /// <summary>A new flight for a missing block not in flight; otherwise null and what to wait on for it.</summary>
    private RunBlock? TryClaim(BlockKey key, int length, BlockPriority priority, bool inOrder, out Task ready)
    {
        while (true)
        {
            if (_store.Contains(key))
            {
                ready = Task.CompletedTask;
                return null;
            }

            if (_flights.TryGet(key, out var running))
            {
                running.RaisePriority(priority);
                ready = running.Completion;
                return null;
            }

            var flight = new BlockFlight(length, priority);
            if (!_flights.TryRegister(key, flight))
            {
                continue;
            }

            // A flight that ended between the checks above stored the block before it left the table.
            if (_store.Contains(key))
            {
                _flights.End(key, flight);
                flight.Complete();
                ready = Task.CompletedTask;
                return null;
            }

            Interlocked.Increment(ref _misses);
            ready = flight.Completion;
            return new RunBlock(key, _store.PathOf(key), flight, inOrder ? new TaskCompletionSource<BlockLease?>(TaskCreationOptions.RunContinuationsAsynchronously) : null);
        }
    }

    /// <summary>The claimed blocks of a run: those the shared tier has, then the rest from the remote.</summary>
    private async Task FetchSpanAsync(List<RunBlock> blocks, Func<RangeSink, CancellationToken, ValueTask> fetchRun)
    {
        var tier = _source.Tier;
        if (tier is null)
        {
            await FetchFromSourceAsync(blocks, fetchRun);
            return;
        }

        var fetches = new List<Task>();
        var remote = new List<RunBlock>();
        var waits = new List<RunBlock>();
        var next = 0;
        var handOff = blocks[0].Handed is not null;
        try
        {
            for (; next < blocks.Count; next++)
            {
                var block = blocks[next];
                var payload = block.Flight.AllocatePayload();
                var probe = await tier.ProbeAsync(block.Key, payload, _source.Lifetime);
                if (probe == TierProbe.Hit)
                {
                    handOff = await CompleteFromTierAsync(block, payload, handOff);
                    continue;
                }

                block.Flight.ReturnPayload();
                (probe == TierProbe.Wait ? waits : remote).Add(block);
            }

            // Our own fetches go out before we wait on the other pods' fills, so neither delays the other.
            StartSubRuns(remote, fetchRun, fetches);
            remote.Clear();
            var holderDelivers = true;
            while (waits.Count > 0)
            {
                var block = waits[0];
                if (holderDelivers)
                {
                    var payload = block.Flight.AllocatePayload();
                    if (await tier.WaitForFillAsync(block.Key, payload, _source.Lifetime))
                    {
                        waits.RemoveAt(0);
                        handOff = await CompleteFromTierAsync(block, payload, handOff);
                        continue;
                    }

                    block.Flight.ReturnPayload();
                    waits.RemoveAt(0);
                    if (tier.TookLeaseOver(block.Key))
                    {
                        // The holder gave this block's lease back: fetch it now, as its new holder, and go on waiting
                        // for the holder's other blocks.
                        StartSubRuns([block], fetchRun, fetches);
                        continue;
                    }

                    // The wait gave up: the holder is not delivering, and waiting on its other blocks would cost a wait each.
                    holderDelivers = false;
                    remote.Add(block);
                    continue;
                }

                remote.Add(block);
                waits.RemoveAt(0);
            }

            StartSubRuns(remote, fetchRun, fetches);
        }
        catch (Exception e)
        {
            // Only the cache's lifetime ends a tier call with an exception: fail what was not handed to a fetch.
            foreach (var block in remote.Concat(waits).Concat(blocks.Skip(next)))
            {
                FailBlock(block, e);
            }
        }

        await Task.WhenAll(fetches);
    }

    /// <summary>Each maximal run of adjacent blocks in <paramref name="blocks"/> as one remote request.</summary>
    private void StartSubRuns(List<RunBlock> blocks, Func<RangeSink, CancellationToken, ValueTask> fetchRun, List<Task> fetches)
    {
        var start = 0;
        for (var i = 1; i <= blocks.Count; i++)
        {
            if (i == blocks.Count || blocks[i].Key.Index != blocks[i - 1].Key.Index + 1)
            {
                if (i > start)
                {
                    fetches.Add(FetchFromSourceAsync(blocks.GetRange(start, i - start), fetchRun));
                }

                start = i;
            }
        }
    }

    /// <summary>One request for a run of claimed adjacent blocks; a failure fails only the blocks not yet stored.</summary>
    private async Task FetchFromSourceAsync(List<RunBlock> blocks, Func<RangeSink, CancellationToken, ValueTask> fetchRun)
    {
        var sink = new BlockRunSink(blocks, _blockSize, _completeBlock, _failBlock);
        try
        {
            await _source.FetchRunAsync(blocks[0].Flight, sink, fetchRun);
        }
        catch (Exception e)
        {
            sink.FailRest(e);
        }
    }

    /// <summary>
    /// A block the shared tier had, never written back to it: handed to the run's in-order reader in memory when
    /// <paramref name="handOff"/> holds and this cache has not handed the block over before, else stored and released
    /// like one from the remote. A handed block is the one buffer this run holds: the next tier read waits until the
    /// reader has let go of it, for at most <see cref="DiskBlockCacheOptions.TierHandOffPatience"/>. Returns whether
    /// the run goes on handing blocks over: a reader that did not take one in time (a slow client) gets the rest of the
    /// run stored, as without a hand-over, so a slow reader never holds up the others waiting on this run's blocks for
    /// longer than that.
    /// </summary>
    private async ValueTask<bool> CompleteFromTierAsync(RunBlock block, Memory<byte> payload, bool handOff)
    {
        // The reader's own reference is taken while the runner still holds the flight, so the buffer outlives End.
        var handed = handOff && _handOffs.IsFirstHit(block.Key) && block.Flight.TryJoin();
        BlockLease? lease = null;
        try
        {
            if (!handed)
            {
                _store.Store(block.Key, block.Path, payload.Span);
            }
        }
        finally
        {
            block.Flight.Complete();
            lease = handed ? block.Flight.LeaseShared() : null;
            _flights.End(block.Key, block.Flight);
            block.Handed?.TrySetResult(lease);
        }

        if (lease is null)
        {
            return handOff;
        }

        Interlocked.Increment(ref _handedOver);
        try
        {
            await block.Flight.Released.WaitAsync(_handOffPatience, _source.Lifetime);
            return true;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // On shutdown the run's next tier call ends it; this block is done either way.
            return false;
        }
    }

    /// <summary>A block of a run has all its bytes: count, store (before readers are released, as a flight does), release.</summary>
    private void CompleteBlock(RunBlock block, Memory<byte> payload)
    {
        try
        {
            _source.CountArrived(payload.Length);
            try
            {
                _store.Store(block.Key, block.Path, payload.Span);
            }
            finally
            {
                // After the store, so that a write the tier defers can read the block back from disk.
                _source.Tier?.Put(block.Key, payload, destination => _store.TryReadInto(block.Key, block.Path, destination));
            }
        }
        finally
        {
            block.Flight.Complete();
            _flights.End(block.Key, block.Flight);
            block.Handed?.TrySetResult(null);
        }
    }

    private void FailBlock(RunBlock block, Exception error)
    {
        _source.Tier?.Abandon(block.Key);
        block.Flight.Fail(error);
        _flights.End(block.Key, block.Flight);
        block.Handed?.TrySetException(error);
    }
}
