using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Live-reload figures as observable instruments, read at collection time from <see cref="ConfigFileWatcher.Status"/>:
/// changes applied, changes rejected, and the time the config in force was applied, so an alert can say "the last good
/// config is N hours old and reloads are failing". The generation (fluid_sidecar_config_generation) comes from the
/// dataset registry.
/// </summary>
internal static class ConfigReloadMetrics
{
    public static void Register(SidecarMeter meter, Func<ConfigReloadStatus> status)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(status);
        var m = meter.Meter;
        m.CreateObservableCounter("fluid_sidecar_config_reloads_total", () => status().Reloads, description: "Live config changes applied.");
        m.CreateObservableCounter("fluid_sidecar_config_reload_failures_total", () => status().ReloadFailures, description: "Config changes rejected (did not parse, validate or apply); the old config kept serving.");
        m.CreateObservableGauge(
            "fluid_sidecar_config_last_reload_success_timestamp_seconds",
            () => status().LastAppliedTime is { } applied ? applied.ToUnixTimeMilliseconds() / 1000.0 : 0,
            "s",
            "Unix time the config in force was applied (start-up or last live change).");
    }
}
