namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Bounds concurrent remote fetches with one limiter per <see cref="BlockPriority"/>: prefetch and read-ahead can
/// fill their own limiters without ever making an on-demand miss wait behind them.
/// </summary>
internal sealed class FetchSlots
{
    private readonly SemaphoreSlim[] _byPriority;

    public FetchSlots(int onDemand, int readAhead, int prefetch)
    {
        _byPriority =
        [
            new SemaphoreSlim(Math.Max(1, onDemand)),
            new SemaphoreSlim(Math.Max(1, readAhead)),
            new SemaphoreSlim(Math.Max(1, prefetch)),
        ];
    }

    /// <summary>Waits for a slot at the flight's priority, moving to a better queue if the priority is raised meanwhile.</summary>
    public async ValueTask<SemaphoreSlim> AcquireAsync(BlockFlight flight, CancellationToken lifetime)
    {
        while (true)
        {
            using var wait = flight.BeginPriorityWait(lifetime, out var priority);
            var slot = _byPriority[(int)priority];
            try
            {
                await slot.WaitAsync(wait.Token);
                return slot;
            }
            catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
            {
                // The priority was raised while queued: queue again at the new priority.
            }
            finally
            {
                flight.EndPriorityWait();
            }
        }
    }
}
