using Fluid.Serverless.Sidecar.Tests.Hosting;
using Fluid.Serverless.Tests.Metrics;

namespace Fluid.Serverless.Sidecar.Tests.Metrics;

/// <summary>The Grafana dashboard asks only for sidecar series that a running sidecar's /metrics exports.</summary>
public sealed class DashboardTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    [Fact]
    public async Task Dashboard_EverySidecarMetric_IsExportedOnMetrics()
    {
        using var admin = new HttpClient { BaseAddress = fixture.Sidecar.AdminEndpoint };
        var exported = DashboardQueries.ExportedSeries(await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative)));

        var asked = DashboardQueries.MetricNames();

        Assert.Contains("fluid_sidecar_cache_hits_total", asked);
        var unknownPrefix = asked.Where(n => !n.StartsWith("fluid_sidecar_", StringComparison.Ordinal) && !n.StartsWith("fluid_injector_", StringComparison.Ordinal));
        Assert.Empty(unknownPrefix);
        var missing = asked.Where(n => n.StartsWith("fluid_sidecar_", StringComparison.Ordinal) && !exported.Contains(n)).Order(StringComparer.Ordinal);
        Assert.Empty(missing);
    }
}
