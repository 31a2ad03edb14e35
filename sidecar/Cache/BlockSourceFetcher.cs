using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Where a missing block, or a span of adjacent missing blocks, is fetched from the source: one request under a
/// fetch slot of the flight's priority, under the cache's lifetime (never a reader's token). It knows nothing of
/// files, the index or single-flight; the caller has claimed the blocks and stores what arrives. This is the one
/// place a further tier (a shared cache between this disk and the remote) goes in front of the remote.
/// </summary>
internal sealed class BlockSourceFetcher
{
    private readonly FetchSlots _slots;
    private readonly CancellationToken _lifetime;
    private long _requests;
    private long _blocks;
    private long _bytes;

    public BlockSourceFetcher(FetchSlots slots, CancellationToken lifetime)
    {
        _slots = slots;
        _lifetime = lifetime;
    }

    /// <summary>Requests sent to the source (a span counts once).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Blocks that arrived from the source.</summary>
    public long Blocks => Interlocked.Read(ref _blocks);

    /// <summary>Payload bytes that arrived from the source.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Fetches one block into the flight's buffer (rented only once the slot is held) and returns it.</summary>
    public async ValueTask<Memory<byte>> FetchBlockAsync(BlockFlight flight, Func<Memory<byte>, CancellationToken, ValueTask> fetch)
    {
        var slot = await _slots.AcquireAsync(flight, _lifetime);
        try
        {
            var payload = flight.AllocatePayload();
            Interlocked.Increment(ref _requests);
            await fetch(payload, _lifetime);
            CountArrived(payload.Length);
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
            await fetchRun(sink, _lifetime);
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
