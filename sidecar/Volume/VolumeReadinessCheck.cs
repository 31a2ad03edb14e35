using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>/readyz: ready when every dataset volume is mounted (fuse) or fully materialized (copy).</summary>
internal sealed class VolumeReadinessCheck(IVolumeStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (status.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"mode {status.Mode}, {status.Volumes.Count} volume(s) ready"));
        }
        var waiting = new List<string>();
        foreach (var volume in status.Volumes)
        {
            if (volume.State is not (VolumeState.Mounted or VolumeState.Ready))
            {
                waiting.Add(volume.Error is null
                    ? $"{volume.Dataset}: {volume.State} ({volume.FilesDone}/{volume.FilesTotal} files)"
                    : $"{volume.Dataset}: {volume.State}: {volume.Error}");
            }
        }
        return Task.FromResult(HealthCheckResult.Unhealthy(string.Join("; ", waiting)));
    }
}
