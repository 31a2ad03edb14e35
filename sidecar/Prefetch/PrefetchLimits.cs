using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// What every prefetch job shares: the worker slots and the bandwidth cap. The slots are global, not per job, so two
/// warm-ups running at once never take more than <see cref="PrefetchConfig.Workers"/> connections from on-demand
/// reads (the cache serves OnDemand first, but only among requests it holds; fewer prefetch requests in flight is
/// what keeps a miss's latency low).
/// </summary>
internal sealed class PrefetchLimits
{
    public PrefetchLimits(PrefetchConfig config, TimeProvider time)
    {
        Workers = Math.Max(1, config.Workers);
        Slots = new SemaphoreSlim(Workers, Workers);
        Bandwidth = config.BandwidthBytesPerSecond > 0 ? new TokenBucket(config.BandwidthBytesPerSecond, time) : null;
    }

    public int Workers { get; }
    public SemaphoreSlim Slots { get; }
    public TokenBucket? Bandwidth { get; }
}

/// <summary>Knobs tests turn (retry delays) and bounds that keep a job's memory flat.</summary>
internal sealed record PrefetchOptions
{
    /// <summary>Retries per file after the source's own retries gave up (2: three attempts in all).</summary>
    public int FileRetries { get; init; } = 2;
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Failed files listed by name; beyond it only the count grows.</summary>
    public int MaxFailedFilesListed { get; init; } = 100;

    /// <summary>Objects listed ahead of the workers: bounds memory on huge prefixes.</summary>
    public int LookAheadItems { get; init; } = 4096;

    /// <summary>Finished admin jobs kept for GET /prefetch.</summary>
    public int FinishedJobsKept { get; init; } = 50;
}
