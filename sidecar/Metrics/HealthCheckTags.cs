namespace Fluid.Serverless.Sidecar.Metrics;

/// <summary>
/// Readiness is the set of health checks tagged <see cref="Ready"/>; /readyz runs them, /healthz runs none. A
/// component adds its own with <c>services.AddHealthChecks().Add(new HealthCheckRegistration(name, …,
/// tags: [HealthCheckTags.Ready]))</c>, as prefetch gating (wait-for-prefetch) does.
/// </summary>
internal static class HealthCheckTags
{
    public const string Ready = "ready";
}
