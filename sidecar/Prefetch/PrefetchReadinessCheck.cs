using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// The /readyz check (tag "ready"): unhealthy until the config's prefetch is Complete when WaitForReady is set, so a
/// native sidecar's startupProbe holds the app until its data is warm. The description says what is missing.
/// </summary>
internal sealed class PrefetchReadinessCheck(PrefetchManager manager) : IHealthCheck
{
    public const string Name = "prefetch";
    public const string ReadyTag = Metrics.HealthCheckTags.Ready;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (ready, reason) = manager.GetReadiness();
        return Task.FromResult(ready ? HealthCheckResult.Healthy(reason) : HealthCheckResult.Unhealthy(reason));
    }
}
