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

    /// <summary>Admin jobs running at once; POST /prefetch beyond it is 429.</summary>
    public int MaxRunningAdminJobs { get; init; } = 4;

    /// <summary>Files the running admin jobs may still have to warm (listed, not yet done) before POST /prefetch is 429.</summary>
    public long MaxQueuedAdminFiles { get; init; } = 1_000_000;

    /// <summary>Bytes the running admin jobs may still have to warm before POST /prefetch is 429.</summary>
    public long MaxQueuedAdminBytes { get; init; } = 1L << 40;

    /// <summary>Entries (paths, globs, manifests) in one POST /prefetch.</summary>
    public int MaxEntriesPerAdminJob { get; init; } = 1000;
}

/// <summary>Why an admin warm-up was refused: the limit's name (as in <see cref="PrefetchOptions"/>), its value and what was found.</summary>
internal sealed record PrefetchLimitHit(string Limit, long Value, long Current)
{
    public string Message => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"prefetch limit {Limit} ({Value}) reached: {Current} now; wait for a running admin job to finish or cancel one with DELETE /prefetch/{{id}}");
}
