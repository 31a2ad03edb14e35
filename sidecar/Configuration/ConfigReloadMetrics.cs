using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Live-reload figures in Prometheus form, read at scrape time from <see cref="ConfigFileWatcher.Status"/>: changes
/// applied, changes rejected, and the time the config in force was applied, so an alert can say "the last good config
/// is N hours old and reloads are failing". The generation (fluid_sidecar_config_generation) comes from the dataset
/// registry.
/// </summary>
internal static class ConfigReloadMetrics
{
    public static void Write(MetricsWriter writer, ConfigReloadStatus status)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(status);
        writer.Counter("fluid_sidecar_config_reloads_total", "Live config changes applied.", status.Reloads);
        writer.Counter("fluid_sidecar_config_reload_failures_total", "Config changes rejected (did not parse, validate or apply); the old config kept serving.", status.ReloadFailures);
        writer.Gauge("fluid_sidecar_config_last_reload_success_timestamp_seconds", "Unix time the config in force was applied (start-up or last live change).",
            status.LastAppliedTime is { } applied ? applied.ToUnixTimeMilliseconds() / 1000.0 : 0);
    }
}
