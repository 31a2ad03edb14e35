using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public class PrefetchMetricsTests
{
    [Fact]
    public void Write_OneLoadingJob_EverySeriesWithJobLabels()
    {
        var job = new PrefetchProgress
        {
            Id = "pf-1",
            Dataset = "imagenet",
            Origin = PrefetchOrigin.Config,
            Paths = ["train/"],
            Phase = PrefetchPhase.Loading,
            TotalsFinal = true,
            FilesTotal = 10,
            FilesDone = 4,
            FilesFailed = 1,
            BytesTotal = 1000,
            BytesDone = 400,
            BytesFetched = 300,
            ThroughputBytesPerSecond = 200,
            EtaSeconds = 3,
        };

        var text = Render(m => PrefetchMetrics.Register(m, new FixedPrefetchStatus(new PrefetchStatusSnapshot([job], WaitForReady: true, Ready: false, "loading"))));

        // plan: the identity of the job's entries, by which the DataLoad controller finds the job warming its list
        var labels = $"{{dataset=\"imagenet\",job=\"pf-1\",phase=\"Loading\",plan=\"{PrefetchPlans.IdOf(["train/"])}\"}}";
        Assert.Contains("fluid_sidecar_prefetch_ready 0\n", text, StringComparison.Ordinal);
        Assert.Contains($"fluid_sidecar_prefetch_files_total{labels} 10\n", text, StringComparison.Ordinal);
        Assert.Contains($"fluid_sidecar_prefetch_files_failed{labels} 1\n", text, StringComparison.Ordinal);
        Assert.Contains($"fluid_sidecar_prefetch_bytes_fetched{labels} 300\n", text, StringComparison.Ordinal);
        Assert.Contains($"fluid_sidecar_prefetch_throughput_bytes_per_second{labels} 200\n", text, StringComparison.Ordinal);
        Assert.Contains($"fluid_sidecar_prefetch_eta_seconds{labels} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE fluid_sidecar_prefetch_files_done gauge\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_NoJobs_ReadinessAndNoSamples()
    {
        var text = Render(m => PrefetchMetrics.Register(m, new FixedPrefetchStatus(new PrefetchStatusSnapshot([], WaitForReady: false, Ready: true, ""))));
        Assert.Contains("fluid_sidecar_prefetch_ready 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("fluid_sidecar_prefetch_files_total{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigReload_Write_CountersFromStatus()
    {
        var status = new ConfigReloadStatus
        {
            Path = "/etc/podinfo/annotations",
            Kind = ConfigFileKind.Annotations,
            Generation = 3,
            Reloads = 2,
            ReloadFailures = 5,
            LastAppliedTime = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000),
        };

        var text = Render(m => ConfigReloadMetrics.Register(m, () => status));

        Assert.Contains("# TYPE fluid_sidecar_config_reload_failures_total counter\nfluid_sidecar_config_reload_failures_total 5\n", text, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_config_reloads_total 2\n", text, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_config_last_reload_success_timestamp_seconds 1800000000\n", text, StringComparison.Ordinal);
    }

    /// <summary>The exporter's text for a meter of its own, with what <paramref name="register"/> adds to it.</summary>
    private static string Render(Action<SidecarMeter> register)
    {
        using var meter = new Meter("test." + Guid.NewGuid().ToString("N"));
        var sidecarMeter = new SidecarMeter(meter);
        register(sidecarMeter);
        using var exporter = sidecarMeter.CreateExporter();
        return exporter.ToText();
    }

    private sealed class FixedPrefetchStatus(PrefetchStatusSnapshot snapshot) : IPrefetchStatus
    {
        public PrefetchStatusSnapshot Snapshot() => snapshot;
    }
}
