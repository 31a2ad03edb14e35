using System.Collections.Concurrent;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The blocks being fetched right now, one <see cref="BlockFlight"/> per block (single-flight): a reader of a block
/// in flight joins its flight instead of fetching it again, whether the flight fetches that block alone or as part
/// of a span. A flight is registered before its fetch starts and leaves the table once its block is stored (or the
/// fetch failed), so a reader that finds no flight finds the block on disk.
/// </summary>
internal sealed class BlockFlightTable
{
    private readonly ConcurrentDictionary<BlockKey, BlockFlight> _flights = new();
    private long _joins;

    /// <summary>Readers that joined a flight already running instead of starting one.</summary>
    public long Joins => Interlocked.Read(ref _joins);

    public int Count => _flights.Count;

    /// <summary>
    /// Joins the flight of <paramref name="key"/> (raising its priority) or registers a new one the caller must run.
    /// Returns <see cref="FlightClaim.Ended"/> when the flight found has just let go of its block: the block is on
    /// disk now (or was passed through), so the caller reads the disk and, on a miss, asks again; it holds no
    /// reference then. After <see cref="FlightClaim.Joined"/> or <see cref="FlightClaim.Started"/> the caller holds
    /// a reader's reference on the flight and lets go of it through <see cref="AwaitLeaseAsync"/>.
    /// </summary>
    public FlightClaim JoinOrStart(BlockKey key, int length, BlockPriority priority, out BlockFlight flight)
    {
        while (true)
        {
            if (_flights.TryGetValue(key, out var running))
            {
                if (running.TryJoin())
                {
                    Interlocked.Increment(ref _joins);
                    running.RaisePriority(priority);
                    flight = running;
                    return FlightClaim.Joined;
                }

                flight = running;
                return FlightClaim.Ended;
            }

            var started = new BlockFlight(length, priority);
            if (!_flights.TryAdd(key, started))
            {
                started.Leave();
                continue;
            }

            started.TryJoin();
            flight = started;
            return FlightClaim.Started;
        }
    }

    /// <summary>The flight of <paramref name="key"/>, if one is running (for a span that will not fetch it again).</summary>
    public bool TryGet(BlockKey key, out BlockFlight flight) => _flights.TryGetValue(key, out flight!);

    /// <summary>Registers a new flight for a span's block; false when another one got there first.</summary>
    public bool TryRegister(BlockKey key, BlockFlight flight) => _flights.TryAdd(key, flight);

    /// <summary>Takes an ended flight out of the table and drops the fetcher's hold on it.</summary>
    public void End(BlockKey key, BlockFlight flight)
    {
        _flights.TryRemove(new KeyValuePair<BlockKey, BlockFlight>(key, flight));
        flight.Leave();
    }

    /// <summary>A reader's wait on a flight: its own lease of the block (the flight's buffer when it is the last reader).</summary>
    public static async ValueTask<BlockLease> AwaitLeaseAsync(BlockFlight flight, CancellationToken cancellationToken)
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
}

/// <summary>What <see cref="BlockFlightTable.JoinOrStart"/> did.</summary>
internal enum FlightClaim
{
    /// <summary>The caller joined a running flight.</summary>
    Joined,

    /// <summary>The caller registered a new flight and must run it.</summary>
    Started,

    /// <summary>The flight found had just finished; the block is on disk (or passed through).</summary>
    Ended,
}
