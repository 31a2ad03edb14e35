using System.Globalization;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>Where a pod's sidecar is with the warm-up a DataLoad handed it.</summary>
internal enum PodWarmState
{
    /// <summary>The pod's /metrics could not be read (no pod IP yet, not reachable, not a sidecar answering).</summary>
    Unknown,

    /// <summary>The sidecar answers but runs no job for the handed list yet (kubelet has not delivered the config).</summary>
    NotStarted,

    Warming,
    Warmed,
    Failed,
}

/// <summary>A pod's progress on the handed prefetch lists, summed over its datasets' jobs.</summary>
internal sealed record PodWarmProgress(PodWarmState State, long FilesDone, long FilesFailed, long FilesTotal);

/// <summary>
/// Reads a pod's warm-up progress from its sidecar's read-only <c>/metrics</c> (the pod-IP probe port): the series
/// <c>fluid_sidecar_prefetch_files_{total,done,failed}</c> of the job whose <c>dataset</c> and <c>plan</c> tags match what
/// the controller wrote (<see cref="Contracts.PrefetchPlans"/>), and its <c>phase</c>.
/// </summary>
internal static class PodPrefetchProgress
{
    private const string Prefix = "fluid_sidecar_prefetch_files_";

    /// <param name="metrics">The text of the pod's /metrics; null when it could not be read.</param>
    /// <param name="expected">Per dataset entry of the pod (the bucket name), the plan id of the list handed to it.</param>
    public static PodWarmProgress Evaluate(string? metrics, IReadOnlyDictionary<string, string> expected)
    {
        if (metrics is null)
        {
            return new PodWarmProgress(PodWarmState.Unknown, 0, 0, 0);
        }

        // the jobs running the handed lists, by dataset and job number (a reload may have started the same list again)
        var jobs = new Dictionary<(string Dataset, long Order), JobFigures>();
        foreach (var line in metrics.Split('\n'))
        {
            if (!line.StartsWith(Prefix, StringComparison.Ordinal) || !TryParse(line, out var series, out var labels, out var value)
                || !labels.TryGetValue("dataset", out var dataset) || !labels.TryGetValue("plan", out var plan)
                || !expected.TryGetValue(dataset, out var wanted) || wanted != plan)
            {
                continue;
            }

            var order = labels.TryGetValue("job", out var job) && job.StartsWith("pf-", StringComparison.Ordinal)
                && long.TryParse(job.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : 0;
            if (!jobs.TryGetValue((dataset, order), out var figures))
            {
                figures = new JobFigures(labels.GetValueOrDefault("phase", ""));
                jobs[(dataset, order)] = figures;
            }

            switch (series)
            {
                case "total": figures.Total = (long)value; break;
                case "done": figures.Done = (long)value; break;
                case "failed": figures.Failed = (long)value; break;
            }
        }

        var newest = new List<JobFigures>();
        foreach (var dataset in expected.Keys)
        {
            var candidates = jobs.Where(j => j.Key.Dataset == dataset).ToList();
            if (candidates.Count == 0)
            {
                return new PodWarmProgress(PodWarmState.NotStarted, 0, 0, 0);
            }

            newest.Add(candidates.MaxBy(j => j.Key.Order).Value);
        }

        var done = newest.Sum(j => j.Done);
        var failed = newest.Sum(j => j.Failed);
        var total = newest.Sum(j => j.Total);
        var finished = newest.All(j => j.Phase is "Complete" or "Failed" or "Cancelled");
        var state = !finished ? PodWarmState.Warming
            : failed > 0 || newest.Any(j => j.Phase != "Complete") ? PodWarmState.Failed
            : PodWarmState.Warmed;
        return new PodWarmProgress(state, done, failed, total);
    }

    private sealed class JobFigures(string phase)
    {
        public string Phase { get; } = phase;

        public long Done { get; set; }

        public long Failed { get; set; }

        public long Total { get; set; }
    }

    /// <summary>One Prometheus text line <c>fluid_sidecar_prefetch_files_X{a="b",…} value</c>.</summary>
    private static bool TryParse(string line, out string series, out Dictionary<string, string> labels, out double value)
    {
        labels = new Dictionary<string, string>(StringComparer.Ordinal);
        series = "";
        value = 0;
        var open = line.IndexOf('{', StringComparison.Ordinal);
        var close = line.LastIndexOf('}');
        if (open < 0 || close < open)
        {
            return false;
        }

        series = line[Prefix.Length..open];
        foreach (var pair in line[(open + 1)..close].Split(','))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                labels[pair[..equals].Trim()] = pair[(equals + 1)..].Trim().Trim('"');
            }
        }

        return double.TryParse(line[(close + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>Reads a pod's sidecar <c>/metrics</c>; null when it cannot.</summary>
internal interface IPodMetricsSource
{
    Task<string?> ReadAsync(string podIp, int port, CancellationToken cancellationToken);
}

/// <summary>
/// GET http://podIP:port/metrics, the sidecar's read-only probe listener that every pod of the cluster may reach (the
/// controller needs no other path into a pod and no new privilege); a short timeout, and any failure is "unknown".
/// </summary>
internal sealed class HttpPodMetricsSource(HttpClient http) : IPodMetricsSource
{
    public async Task<string?> ReadAsync(string podIp, int port, CancellationToken cancellationToken)
    {
        var host = podIp.Contains(':', StringComparison.Ordinal) ? $"[{podIp}]" : podIp;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            return await http.GetStringAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{port}/metrics")), timeout.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
