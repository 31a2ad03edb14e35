using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Resilience;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>How the guard treats the engine; built from the config's <c>sharedCache</c> section.</summary>
internal sealed record SharedTierOptions
{
    public string Prefix { get; init; } = "fluid/";

    /// <summary>One call, reads, writes and lease attempts alike.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(SidecarDefaults.SharedCacheTimeoutMilliseconds);

    public TimeSpan Lease { get; init; } = TimeSpan.FromMilliseconds(SidecarDefaults.SharedCacheLeaseMilliseconds);

    public int MaxPendingWrites { get; init; } = SidecarDefaults.SharedCacheMaxPendingWrites;

    /// <summary>Writes in flight at once; the rest wait in the (bounded) queue.</summary>
    public int WriterConcurrency { get; init; } = 4;

    /// <summary>
    /// The breaker (thresholds only; retries and timeouts of a source do not apply). It opens sooner than a source's: the
    /// tier is an optimisation, and every call to a failing tier costs a reader up to <see cref="Timeout"/>.
    /// </summary>
    public SourceResilienceOptions Breaker { get; init; } = new()
    {
        BreakerFailureRatio = 0.5,
        BreakerMinimumThroughput = 40,
        BreakerSampling = TimeSpan.FromSeconds(10),
        BreakerBreak = TimeSpan.FromSeconds(5),
    };

    public static SharedTierOptions From(SharedCacheConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new SharedTierOptions
        {
            Prefix = config.Prefix,
            Timeout = TimeSpan.FromMilliseconds(config.TimeoutMilliseconds),
            Lease = TimeSpan.FromMilliseconds(config.LeaseMilliseconds),
            MaxPendingWrites = config.MaxPendingWrites,
        };
    }
}
