using Fluid.Serverless.Sidecar.Hosting;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// Prefetch figures in Prometheus form, read at scrape time from <see cref="IPrefetchStatus"/>. One series set per
/// job (labels dataset, job), so a dashboard can follow a warm-up and alert on failures; the phase is one-hot
/// (1 for the current phase) like kube-state-metrics' phase gauges. Wire with
/// <c>registry.AddCollector(w =&gt; PrefetchMetrics.Write(w, status.Snapshot()))</c>.
/// </summary>
internal static class PrefetchMetrics
{
    private static readonly string[] JobLabels = ["dataset", "job"];
    private static readonly string[] JobStateLabels = ["dataset", "job", "state"];
    private static readonly string[] JobPhaseLabels = ["dataset", "job", "phase"];
    private static readonly PrefetchPhase[] Phases = Enum.GetValues<PrefetchPhase>();

    public static void Write(MetricsWriter writer, PrefetchStatusSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(snapshot);

        writer.Gauge("fluid_prefetch_ready", "1 when prefetch does not hold readiness back (gating off, or every config job Complete).", snapshot.Ready ? 1 : 0);
        if (snapshot.Jobs.Count == 0)
        {
            return;
        }

        writer.Header("fluid_prefetch_files", "Files of a prefetch job by state: total (listed so far), done, failed.", "gauge");
        foreach (var job in snapshot.Jobs)
        {
            writer.Sample("fluid_prefetch_files", JobStateLabels, new LabelValues(job.Dataset, job.Id, "total"), job.FilesTotal);
            writer.Sample("fluid_prefetch_files", JobStateLabels, new LabelValues(job.Dataset, job.Id, "done"), job.FilesDone);
            writer.Sample("fluid_prefetch_files", JobStateLabels, new LabelValues(job.Dataset, job.Id, "failed"), job.FilesFailed);
        }

        writer.Header("fluid_prefetch_bytes", "Bytes of a prefetch job by state: total, done, fetched (read from the remote; less than done when blocks were cached).", "gauge");
        foreach (var job in snapshot.Jobs)
        {
            writer.Sample("fluid_prefetch_bytes", JobStateLabels, new LabelValues(job.Dataset, job.Id, "total"), job.BytesTotal);
            writer.Sample("fluid_prefetch_bytes", JobStateLabels, new LabelValues(job.Dataset, job.Id, "done"), job.BytesDone);
            writer.Sample("fluid_prefetch_bytes", JobStateLabels, new LabelValues(job.Dataset, job.Id, "fetched"), job.BytesFetched);
        }

        writer.Header("fluid_prefetch_throughput_bytes_per_second", "Bytes done per second since the job started.", "gauge");
        foreach (var job in snapshot.Jobs)
        {
            writer.Sample("fluid_prefetch_throughput_bytes_per_second", JobLabels, new LabelValues(job.Dataset, job.Id), job.ThroughputBytesPerSecond);
        }

        writer.Header("fluid_prefetch_eta_seconds", "Estimated seconds left (only while Loading with final totals).", "gauge");
        foreach (var job in snapshot.Jobs)
        {
            if (job.EtaSeconds is { } eta)
            {
                writer.Sample("fluid_prefetch_eta_seconds", JobLabels, new LabelValues(job.Dataset, job.Id), eta);
            }
        }

        writer.Header("fluid_prefetch_phase", "1 for the job's current phase (Pending, Loading, Complete, Failed, Cancelled), 0 otherwise.", "gauge");
        foreach (var job in snapshot.Jobs)
        {
            foreach (var phase in Phases)
            {
                writer.Sample("fluid_prefetch_phase", JobPhaseLabels, new LabelValues(job.Dataset, job.Id, phase.ToString()), job.Phase == phase ? 1 : 0);
            }
        }
    }
}
