using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Fluid.Serverless.Sidecar.Tests.Metrics;

/// <summary>The Prometheus text the exporter writes for the BCL's instruments.</summary>
public sealed class PrometheusMeterExporterTests
{
    [Fact]
    public void ToText_CounterWithTags_SummedPerTagSetWithHelpAndType()
    {
        using var meter = new Meter("test.counter");
        using var exporter = new PrometheusMeterExporter(m => ReferenceEquals(m, meter));
        var counter = meter.CreateCounter<long>("x_requests_total", description: "Requests.");

        counter.Add(2, new("operation", "GetObject"), new("status", "200"));
        counter.Add(3, new("operation", "GetObject"), new("status", "200"));
        counter.Add(1, new("operation", "Put\"Object"), new("status", "404"));

        var text = exporter.ToText();
        Assert.Contains("# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("x_requests_total{operation=\"GetObject\",status=\"200\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("x_requests_total{operation=\"Put\\\"Object\",status=\"404\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToText_HistogramWithAdvice_CumulativeBucketsSumAndCount()
    {
        using var meter = new Meter("test.histogram");
        using var exporter = new PrometheusMeterExporter(m => ReferenceEquals(m, meter));
        var histogram = meter.CreateHistogram("x_seconds", unit: "s", description: "Latency.", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });

        histogram.Record(0.0625);
        histogram.Record(0.5);
        histogram.Record(7);

        var text = exporter.ToText();
        Assert.Contains("# TYPE x_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("x_seconds_bucket{le=\"0.1\"} 1\nx_seconds_bucket{le=\"1\"} 2\nx_seconds_bucket{le=\"+Inf\"} 3\nx_seconds_sum 7.5625\nx_seconds_count 3\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToText_ObservableGauge_ReadOnEveryScrapeAndGoneSeriesDropped()
    {
        using var meter = new Meter("test.observable");
        using var exporter = new PrometheusMeterExporter(m => ReferenceEquals(m, meter));
        var jobs = new List<string> { "a", "b" };
        meter.CreateObservableGauge("x_jobs", () => jobs.Select(j => new Measurement<int>(1, new KeyValuePair<string, object?>("job", j))));

        var first = exporter.ToText();
        jobs.Remove("a");
        var second = exporter.ToText();

        Assert.Contains("x_jobs{job=\"a\"} 1\n", first, StringComparison.Ordinal);
        Assert.DoesNotContain("job=\"a\"", second, StringComparison.Ordinal);
        Assert.Contains("x_jobs{job=\"b\"} 1\n", second, StringComparison.Ordinal);
    }

    [Fact]
    public void ForScope_TwoMeterFactories_EachExporterSeesItsOwn()
    {
        using var first = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var second = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var firstFactory = first.GetRequiredService<IMeterFactory>();
        var secondFactory = second.GetRequiredService<IMeterFactory>();
        using var exporter = PrometheusMeterExporter.ForScope(firstFactory, MeterNames.Sidecar);
        firstFactory.Create(MeterNames.Sidecar).CreateCounter<long>("x_total").Add(1);
        secondFactory.Create(MeterNames.Sidecar).CreateCounter<long>("x_total").Add(10);

        Assert.Contains("x_total 1\n", exporter.ToText(), StringComparison.Ordinal);
    }
}
