using System.Diagnostics;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Where a missing block, or a span of adjacent missing blocks, is fetched from the source: one request under a
/// fetch slot of the flight's priority, under the cache's lifetime (never a reader's token). It knows nothing of
/// files, the index or single-flight; the caller has claimed the blocks and stores what arrives. This is the one
/// place the shared tier (<see cref="SharedTierLookup"/>, when configured) goes in front of the remote: a block is
/// asked of the tier before it queues for a slot, and a block fetched from the remote is written around to the tier.
/// </summary>
internal sealed class BlockSourceFetcher
{
    private readonly FetchSlots _slots;
    private readonly CancellationToken _lifetime;
    private long _requests;
    private long _blocks;
    private long _bytes;

    public BlockSourceFetcher(FetchSlots slots, CancellationToken lifetime, SharedTierLookup? tier = null)
    {
        _slots = slots;
        _lifetime = lifetime;
        Tier = tier;
    }

    /// <summary>The shared tier between this cache and the remote; null when none is configured.</summary>
    public SharedTierLookup? Tier { get; }

    /// <summary>The cache's lifetime, under which every fetch and tier call runs.</summary>
    public CancellationToken Lifetime => _lifetime;

    /// <summary>Requests sent to the source (a span counts once).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Blocks that arrived from the source.</summary>
    public long Blocks => Interlocked.Read(ref _blocks);

    /// <summary>Payload bytes that arrived from the source.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// The block <paramref name="key"/> into the flight's buffer: from the shared tier when it has it (or another pod
    /// fills it while this one waits on its lease), else from the remote, and then written around to the tier.
    /// </summary>
    public async ValueTask<Memory<byte>> FetchBlockAsync(BlockKey key, BlockFlight flight, Func<Memory<byte>, CancellationToken, ValueTask> fetch)
    {
        if (Tier is not null)
        {
            var probe = flight.AllocatePayload();
            if (await Tier.TryFillAsync(key, probe, _lifetime))
            {
                return probe;
            }

            // Queued for a slot, the flight holds no memory (as without a tier).
            flight.ReturnPayload();
        }

        Memory<byte> payload;
        try
        {
            payload = await FetchBlockAsync(flight, fetch);
        }
        catch
        {
            Tier?.Abandon(key);
            throw;
        }

        Tier?.Put(key, payload);
        return payload;
    }

    /// <summary>Fetches one block from the source into the flight's buffer (rented only once the slot is held) and returns it.</summary>
    public async ValueTask<Memory<byte>> FetchBlockAsync(BlockFlight flight, Func<Memory<byte>, CancellationToken, ValueTask> fetch)
    {
        var slot = await _slots.AcquireAsync(flight, _lifetime);
        try
        {
            var payload = flight.AllocatePayload();
            Interlocked.Increment(ref _requests);
            var started = Stopwatch.GetTimestamp();
            await fetch(payload, _lifetime);
            CountArrived(payload.Length);
            Tier?.ObserveRemote(payload.Length, Stopwatch.GetElapsedTime(started));
            return payload;
        }
        finally
        {
            slot.Release();
        }
    }

    /// <summary>
    /// Streams a run of blocks into <paramref name="sink"/> with one request, queued at the priority of the run's
    /// first block (a reader joining that block raises it). Throws when the source stops short of the run's end;
    /// the blocks completed before that are already handed on by the sink.
    /// </summary>
    public async ValueTask FetchRunAsync(BlockFlight first, BlockRunSink sink, Func<RangeSink, CancellationToken, ValueTask> fetchRun)
    {
        var slot = await _slots.AcquireAsync(first, _lifetime);
        try
        {
            Interlocked.Increment(ref _requests);
            var started = Stopwatch.GetTimestamp();
            var before = sink.Remaining;
            await fetchRun(sink, _lifetime);
            Tier?.ObserveRemote(before - sink.Remaining, Stopwatch.GetElapsedTime(started));
            if (sink.Remaining > 0)
            {
                throw new IOException($"the source returned with {sink.Remaining} bytes of the run still missing");
            }
        }
        finally
        {
            slot.Release();
        }
    }

    /// <summary>Counts one block of <paramref name="bytes"/> that arrived from the source (a span's blocks one by one).</summary>
    public void CountArrived(int bytes)
    {
        Interlocked.Increment(ref _blocks);
        Interlocked.Add(ref _bytes, bytes);
    }
}
