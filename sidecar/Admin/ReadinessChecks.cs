using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>Ready once the config was read and validated (the process does not start otherwise).</summary>
internal sealed class ConfigReadinessCheck(SidecarConfigSource configSource) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy($"loaded from {configSource.Origin}"));
}

/// <summary>Ready once the datasets are built and swapped in.</summary>
internal sealed class DatasetsReadinessCheck(DatasetRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(registry.HasPublished
            ? HealthCheckResult.Healthy($"{registry.Current.Datasets.Count} dataset(s), generation {registry.Current.Generation}")
            : HealthCheckResult.Unhealthy("datasets are not built yet"));
}

/// <summary>Where the running config came from (for /status and the readiness report).</summary>
internal sealed record SidecarConfigSource(string Origin);

/// <summary>Ready when every shared volume is mounted (fuse) or materialized (copy); always ready in s3 mode.</summary>
internal sealed class VolumesReadinessCheck(Volume.IVolumeStatus? volumes) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (volumes is null || volumes.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Healthy(volumes is null ? "no volumes" : $"mode {volumes.Mode}"));
        }

        var pending = string.Join(", ", volumes.Volumes.Where(v => v.State is not (Volume.VolumeState.Mounted or Volume.VolumeState.Ready)).Select(v => $"{v.Dataset}: {v.State}{(v.Error is null ? "" : " (" + v.Error + ")")}"));
        return Task.FromResult(HealthCheckResult.Unhealthy($"mode {volumes.Mode}: {pending}"));
    }
}
