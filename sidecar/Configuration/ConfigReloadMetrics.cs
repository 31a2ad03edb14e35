using Fluid.Serverless.Sidecar.Hosting;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Live-reload figures in Prometheus form, read at scrape time from <see cref="ConfigFileWatcher.Status"/>.
/// (The dataset generation itself is already fluid_sidecar_config_generation, from the registry.)
/// </summary>
internal static class ConfigReloadMetrics
{
    public static void Write(MetricsWriter writer, ConfigReloadStatus status)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(status);
        writer.Counter("fluid_config_reloads_total", "Config changes applied live since start.", status.Reloads);
        writer.Counter("fluid_config_reload_failures_total", "Config changes rejected (unparsable, invalid or not applicable); the previous config kept serving.", status.ReloadFailures);
        writer.Gauge("fluid_config_last_reload_success_timestamp_seconds", "Unix time the config in force was applied (start-up or last live change).",
            status.LastAppliedTime is { } applied ? applied.ToUnixTimeMilliseconds() / 1000.0 : 0);
    }
}
