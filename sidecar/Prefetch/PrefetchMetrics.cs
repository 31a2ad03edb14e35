using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// Prefetch figures as observable gauges, read at collection time from <see cref="IPrefetchStatus"/>: one series per
/// job (tags dataset, job, phase, and plan: <see cref="PrefetchPlans.IdOf"/> of its entries, by which the DataLoad
/// controller finds the job warming what it asked for) with its files and bytes, the bytes fetched from the remote, throughput and ETA, and
/// the readiness gate.
/// </summary>
internal static class PrefetchMetrics
{
    private static readonly (string Name, string? Unit, string Help, Func<PrefetchProgress, double?> Value)[] Series =
    [
        ("fluid_sidecar_prefetch_files_total", null, "Files a prefetch job will warm (grows while the plan is still listing).", p => p.FilesTotal),
        ("fluid_sidecar_prefetch_files_done", null, "Files a prefetch job has warmed.", p => p.FilesDone),
        ("fluid_sidecar_prefetch_files_failed", null, "Files a prefetch job failed to warm after retries.", p => p.FilesFailed),
        ("fluid_sidecar_prefetch_bytes_total", "By", "Bytes a prefetch job will warm.", p => p.BytesTotal),
        ("fluid_sidecar_prefetch_bytes_done", "By", "Bytes a prefetch job has warmed.", p => p.BytesDone),
        ("fluid_sidecar_prefetch_bytes_fetched", "By", "Bytes a prefetch job read from the remote (less than done when blocks were cached).", p => p.BytesFetched),
        ("fluid_sidecar_prefetch_throughput_bytes_per_second", "By/s", "Bytes done per second since the job started.", p => p.ThroughputBytesPerSecond),
        ("fluid_sidecar_prefetch_eta_seconds", "s", "Estimated seconds left; only while Loading with final totals.", p => p.EtaSeconds),
    ];

    public static void Register(SidecarMeter meter, IPrefetchStatus prefetch)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(prefetch);
        var m = meter.Meter;
        m.CreateObservableGauge("fluid_sidecar_prefetch_ready", () => prefetch.Snapshot().Ready ? 1 : 0, description: "1 when the prefetch readiness gate is open (always 1 without wait-for-prefetch).");
        foreach (var (name, unit, help, value) in Series)
        {
            m.CreateObservableGauge(name, () => Observe(prefetch.Snapshot(), value), unit, help);
        }
    }

    private static IEnumerable<Measurement<double>> Observe(PrefetchStatusSnapshot snapshot, Func<PrefetchProgress, double?> value)
    {
        foreach (var job in snapshot.Jobs)
        {
            if (value(job) is { } sample)
            {
                yield return new Measurement<double>(sample, new("dataset", job.Dataset), new("job", job.Id), new("phase", job.Phase.ToString()), new("plan", job.PlanId));
            }
        }
    }
}
