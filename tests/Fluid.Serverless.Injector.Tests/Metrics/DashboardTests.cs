using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts.Metrics;
using Fluid.Serverless.Injector.Admission;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Tests.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Fluid.Serverless.Injector.Tests.Metrics;

/// <summary>The Grafana dashboard asks only for injector series that the injector's /metrics exporter writes.</summary>
public sealed class DashboardTests
{
    [Fact]
    public void Dashboard_EveryInjectorMetric_IsExportedOnMetrics()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var exporter = PrometheusMeterExporter.ForScope(meters, MeterNames.Injector);
        _ = new AdmissionMetrics(meters);
        _ = new ControllerMetrics(meters);
        var exported = DashboardQueries.ExportedSeries(exporter.ToText());

        var asked = DashboardQueries.MetricNames().Where(n => n.StartsWith("fluid_injector_", StringComparison.Ordinal)).ToList();

        Assert.Contains("fluid_injector_admission_duration_seconds_bucket", asked);
        var missing = asked.Except(exported).ToList();
        Assert.Empty(missing);
    }
}
