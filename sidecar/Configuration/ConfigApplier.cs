using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Applies an accepted config while the sidecar serves: the datasets through <see cref="DatasetRegistry.Apply"/>
/// (all or nothing; unchanged datasets keep their Dataset object; requests holding the old snapshot finish on it;
/// cache keys carry the source identity, so blocks of the old source stay valid for it), then the prefetch jobs
/// follow the registry's Changed event. The prefetch section (workers, bandwidth, gating) is swapped just before
/// the datasets so jobs started for the new datasets use it, and swapped back if the datasets are refused.
/// Listeners, cache directory and quota are fixed at start-up: changing them in a live config is accepted for the
/// rest but logged as needing a restart.
/// </summary>
internal sealed partial class ConfigApplier(DatasetRegistry registry, PrefetchManager? prefetch, SidecarConfig startupConfig, ILogger<ConfigApplier> logger)
{
    private readonly Lock _gate = new();
    private PrefetchConfig _prefetchInForce = startupConfig.Prefetch;

    /// <summary>Wire to <see cref="ConfigFileWatcher.ConfigChanged"/>: throwing rejects the config as a whole.</summary>
    public void Apply(SidecarConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        lock (_gate)
        {
            var previousPrefetch = _prefetchInForce;
            prefetch?.UpdateSettings(config.Prefetch);
            var errors = registry.Apply(config.Datasets);
            if (errors.Count > 0)
            {
                prefetch?.UpdateSettings(previousPrefetch);
                throw new InvalidOperationException(string.Join("; ", errors));
            }

            _prefetchInForce = config.Prefetch;
        }

        foreach (var field in FieldsNeedingRestart(startupConfig, config))
        {
            Log.NeedsRestart(logger, field);
        }
    }

    private static IEnumerable<string> FieldsNeedingRestart(SidecarConfig running, SidecarConfig next)
    {
        if (running.S3 != next.S3)
        {
            yield return "s3";
        }

        if (running.Admin != next.Admin)
        {
            yield return "admin";
        }

        if (running.Cache != next.Cache)
        {
            yield return "cache";
        }

        if (running.Mode != next.Mode)
        {
            yield return "mode";
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5110, Level = LogLevel.Warning, Message = "Config field '{Field}' changed; it applies at the next restart (datasets and prefetch applied now)")]
        public static partial void NeedsRestart(ILogger logger, string field);
    }
}
