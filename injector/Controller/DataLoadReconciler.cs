using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// Runs DataLoads whose Dataset no Fluid runtime serves (a bound runtime's DataLoads belong to Fluid's controller: left
/// alone, logged). With a shared cache tier the load is a Job running the sidecar image in its <c>warm</c> mode
/// (<see cref="DataLoadJobBuilder"/>), and the DataLoad follows the Job: Pending → Executing → Complete or Failed.
/// Without a tier the targets go into the prefetch list of every running pod of the Dataset (a merge patch of their
/// <c>sidecar-config</c> annotation, the live-config path); the sidecars warm their own caches, and the DataLoad follows
/// their progress on each pod's read-only <c>/metrics</c> (<see cref="PodPrefetchProgress"/>).
/// Cron DataLoads start a run at each time of <c>spec.schedule</c> (only the latest missed one after a pause);
/// <c>spec.runAfter</c> holds a DataLoad Pending until the named DataLoad is Complete. Every pass is idempotent: a
/// run's Job has a name fixed by the run (Once, or the scheduled minute), so a pass over a stale copy only meets a 409.
/// </summary>
internal sealed partial class DataLoadReconciler(
    IKubernetes client,
    ClusterState cluster,
    InjectorOptions options,
    PatchPacer pacer,
    TimeProvider time,
    ILogger<DataLoadReconciler> logger,
    TimeSpan tick,
    IPodMetricsSource podMetrics) : IReconciler
{
    public const string PhasePending = "Pending";
    public const string PhaseExecuting = "Executing";
    public const string PhaseComplete = "Complete";
    public const string PhaseFailed = "Failed";

    /// <summary>status.infos keys: the run's Job, or the pods that got the targets and how far they are.</summary>
    public const string InfoJob = "job";
    public const string InfoPods = "pods";
    public const string InfoPodsWarmed = "podsWarmed";
    public const string InfoFiles = "files";
    public const string InfoMessage = "message";

    // what was already logged once per DataLoad (left to Fluid, waiting), and when a DataLoad without creationTimestamp was first seen
    // (concurrent: a pass may also be run directly, next to the queue's loop)
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string, string), bool> _said = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), DateTimeOffset> _firstSeen = new();

    public string Name => "DataLoad";

    public Task RunAsync(CancellationToken cancel) => ReconcileLoop.RunAsync(
        cluster,
        time,
        tick, // Cron schedules and runAfter waits move with time, not with watch events
        OnChange,
        () => cluster.DataLoads.Keys,
        ReconcileAsync,
        (@namespace, name, exception) => Log.PassFailed(logger, @namespace, name, exception.Message),
        cancel);

    private void OnChange(ClusterChange change, WorkQueue<(string, string)> queue)
    {
        switch (change.Kind)
        {
            case FluidDataLoad.Kind when !change.Removed:
                queue.Add((change.Namespace, change.Name));
                // a DataLoad that waits for this one (runAfter)
                foreach (var waiting in cluster.DataLoads.InNamespace(change.Namespace).Select(FluidDataLoad.FromJson)
                    .Where(l => l.RunAfter is { } after && after.Name == change.Name && after.Namespace == change.Namespace))
                {
                    queue.Add((waiting.Namespace, waiting.Name));
                }

                break;
            case "Job" when !change.Removed && cluster.DataLoadJobs.Find(change.Namespace, change.Name) is { } job:
                if (job.Obj("metadata").StringMap("labels").GetValueOrDefault(FluidDataLoad.JobLabel) is { Length: > 0 } owner)
                {
                    queue.Add((change.Namespace, owner));
                }

                break;
            case "Dataset" when !change.Removed:
                foreach (var load in cluster.DataLoads.Keys.Select(k => cluster.DataLoads.Find(k.Namespace, k.Name)).OfType<JsonObject>().Select(FluidDataLoad.FromJson)
                    .Where(l => l.Dataset == change.Name && l.DatasetNamespace == change.Namespace))
                {
                    queue.Add((load.Namespace, load.Name));
                }

                break;
        }
    }

    /// <returns>True when the pass must be repeated soon (a pod changed under it).</returns>
    public async Task<bool> ReconcileAsync(string @namespace, string name, CancellationToken cancel)
    {
        if (cluster.DataLoads.Find(@namespace, name) is not { } obj)
        {
            _firstSeen.TryRemove((@namespace, name), out _);
            return false;
        }

        var load = FluidDataLoad.FromJson(obj);
        var cron = load.Policy == FluidDataLoad.PolicyCron;
        if (!cron && load.Phase is PhaseComplete or PhaseFailed)
        {
            return false;
        }

        if (load.Policy is not (FluidDataLoad.PolicyOnce or FluidDataLoad.PolicyCron))
        {
            return await FailOnceAsync(load, $"spec.policy '{load.Policy}' is not supported here: expected Once or Cron", cancel);
        }

        if (cluster.FindDataset(load.DatasetNamespace, load.Dataset) is not { } dataset)
        {
            SayOnce(load, "dataset", () => Log.Waiting(logger, load.Namespace, load.Name, $"dataset '{load.DatasetNamespace}/{load.Dataset}' does not exist (yet)"));
            await WritePendingAsync(load, null, cancel);
            return false;
        }

        if (dataset.Runtimes.Count > 0)
        {
            var runtime = dataset.Runtimes[0];
            SayOnce(load, "fluid", () => Log.LeftToFluid(logger, load.Namespace, load.Name, load.Dataset, $"{runtime.Namespace}/{runtime.Name} ({runtime.Type})"));
            return false;
        }

        // runAfter holds the first run only (a Cron DataLoad's later runs follow its schedule)
        if (load.RunAfter is not null && load.Phase is "" or PhasePending)
        {
            var preceding = Preceding(load.RunAfter);
            if (preceding == PhaseFailed)
            {
                return await FailOnceAsync(load, $"spec.runAfter: {load.RunAfter!.Kind} '{load.RunAfter.Namespace}/{load.RunAfter.Name}' failed", cancel);
            }

            if (preceding != PhaseComplete)
            {
                SayOnce(load, "runAfter", () => Log.Waiting(logger, load.Namespace, load.Name,
                    $"spec.runAfter: {load.RunAfter!.Kind} '{load.RunAfter.Namespace}/{load.RunAfter.Name}' is {(preceding is { Length: > 0 } phase ? phase : "not complete")}"));
                await WritePendingAsync(load, false, cancel);
                return false;
            }
        }

        if (DataLoadJobBuilder.Plan(load, cluster, options, out var planError) is not { } plan)
        {
            return await FailOnceAsync(load, planError!, cancel);
        }

        DateTimeOffset? scheduled = null;
        if (cron)
        {
            if (!CronSchedule.TryParse(load.Schedule, out var schedule, out var scheduleError))
            {
                return await FailOnceAsync(load, "spec.schedule " + scheduleError, cancel);
            }

            if (load.Phase == PhaseExecuting)
            {
                return plan.Tier is not null ? await FollowJobAsync(load, cancel) : await FollowPodsAsync(load, dataset, cancel);
            }

            var since = load.LastScheduleTime ?? load.Created ?? FirstSeen(load);
            scheduled = schedule.LastDue(since, time.GetUtcNow());
            if (scheduled is null)
            {
                await WritePendingAsync(load, load.RunAfter is null ? null : true, cancel);
                return false;
            }
        }
        else if (load.Phase == PhaseExecuting)
        {
            return plan.Tier is not null ? await FollowJobAsync(load, cancel) : await FollowPodsAsync(load, dataset, cancel);
        }

        return plan.Tier is not null
            ? await StartJobAsync(load, dataset, plan, scheduled, cancel)
            : await HandToPodsAsync(load, dataset, scheduled, cancel);
    }

    private string? Preceding(OperationReference reference) =>
        reference.Kind == FluidDataLoad.Kind && cluster.DataLoads.Find(reference.Namespace, reference.Name) is { } preceding
            ? preceding.Obj("status").Str("phase") ?? ""
            : null;

    private DateTimeOffset FirstSeen(FluidDataLoad load) => _firstSeen.GetOrAdd((load.Namespace, load.Name), _ => time.GetUtcNow());

    private async Task<bool> StartJobAsync(FluidDataLoad load, FluidDataset dataset, DataLoadPlan plan, DateTimeOffset? scheduled, CancellationToken cancel)
    {
        if (!DataLoadJobBuilder.TryBuildConfig(load, dataset, plan, cluster, options, out var config, out var secretEnv, out var error))
        {
            return await FailOnceAsync(load, error!, cancel);
        }

        var jobName = DataLoadJobBuilder.JobName(load, scheduled);
        var job = DataLoadJobBuilder.Build(load, jobName, config, secretEnv, plan.Settings, options);
        await pacer.WaitAsync(cancel);
        try
        {
            await client.BatchV1.CreateNamespacedJobAsync(KubernetesJson.Deserialize<V1Job>(job.ToJsonString()), load.Namespace, fieldManager: EventRecorder.Component, cancellationToken: cancel);
            Log.Started(logger, load.Namespace, load.Name, jobName, string.Join(", ", config.Datasets.SelectMany(d => d.Prefetch).Select(p => "/" + p)));
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // this run's Job exists: a pass over a stale copy of the DataLoad
        }

        var status = new JsonObject
        {
            ["phase"] = PhaseExecuting,
            ["duration"] = "Unfinished",
            ["conditions"] = new JsonArray(),
            ["infos"] = new JsonObject { [InfoJob] = jobName },
        };
        if (scheduled is { } at)
        {
            status["lastScheduleTime"] = Timestamp(at);
        }

        if (load.RunAfter is not null)
        {
            status["waitingFor"] = new JsonObject { ["operationComplete"] = true };
        }

        await WriteStatusAsync(load, status, cancel);
        return false;
    }

    /// <summary>Executing: the run's Job decides (its Complete or Failed condition, as the Job controller sets them).</summary>
    private async Task<bool> FollowJobAsync(FluidDataLoad load, CancellationToken cancel)
    {
        if (load.Infos.GetValueOrDefault(InfoJob) is not { Length: > 0 } jobName || cluster.DataLoadJobs.Find(load.Namespace, jobName) is not { } job)
        {
            return false; // the watch has not delivered the Job yet
        }

        var conditions = job.Obj("status").Arr("conditions").Objects().Where(c => c.Str("status") == "True").ToList();
        var failed = conditions.FirstOrDefault(c => c.Str("type") == "Failed");
        var complete = conditions.FirstOrDefault(c => c.Str("type") is "Complete" or "SuccessCriteriaMet");
        if (failed is null && complete is null)
        {
            return false;
        }

        var started = FluidDataLoad.Time(job.Obj("status").Str("startTime")) ?? load.LastScheduleTime ?? load.Created ?? time.GetUtcNow();
        var finished = FluidDataLoad.Time(job.Obj("status").Str("completionTime")) ?? FluidDataLoad.Time((failed ?? complete)!.Str("lastTransitionTime")) ?? time.GetUtcNow();
        var ok = failed is null;
        var message = ok
            ? $"Job {jobName} warmed the targets into the shared cache tier"
            : $"Job {jobName} failed: {failed!.Str("reason")}: {failed.Str("message")} (its pod's log names the files)";
        await FinishAsync(load, ok, ok ? "DataLoadJobComplete" : "DataLoadJobFailed", message, started, finished, cancel);
        return false;
    }

    /// <summary>No tier: every running pod of the dataset gets the targets as its prefetch list (the sidecar warms its own
    /// cache). The DataLoad is Executing until <see cref="FollowPodsAsync"/> sees the pods done.</summary>
    private async Task<bool> HandToPodsAsync(FluidDataLoad load, FluidDataset dataset, DateTimeOffset? scheduled, CancellationToken cancel)
    {
        var started = time.GetUtcNow();
        var pods = PodsOf(dataset);
        var handed = 0;
        var retry = false;
        string? refused = null;
        foreach (var pod in pods)
        {
            var (result, reason) = await HandToPodAsync(load, dataset, pod, cancel);
            switch (result)
            {
                case HandResult.Patched or HandResult.AlreadyThere:
                    handed++;
                    break;
                case HandResult.Conflict:
                    retry = true;
                    break;
                case HandResult.Refused:
                    refused ??= reason;
                    break;
            }
        }

        if (retry)
        {
            return true;
        }

        if (refused is not null)
        {
            return await FailOnceAsync(load, refused, cancel);
        }

        Log.PodsPatched(logger, load.Namespace, load.Name, handed, dataset.Name);
        if (handed == 0)
        {
            var message = $"no running pod uses dataset '{dataset.Name}' and no shared cache tier is configured: nothing to warm (pods started later warm what their own prefetch annotation names)";
            await FinishAsync(load, true, "PrefetchHandedToPods", message, scheduled ?? started, time.GetUtcNow(), cancel, new JsonObject { [InfoPods] = "0" }, scheduled);
            return false;
        }

        var status = new JsonObject
        {
            ["phase"] = PhaseExecuting,
            ["duration"] = "Unfinished",
            ["conditions"] = new JsonArray(),
            ["infos"] = new JsonObject { [InfoPods] = handed.ToString(CultureInfo.InvariantCulture), [InfoPodsWarmed] = "0" },
        };
        if (scheduled is { } at)
        {
            status["lastScheduleTime"] = Timestamp(at);
        }

        await WriteStatusAsync(load, status, cancel);
        return false;
    }

    /// <summary>
    /// Executing without a tier: each pod's sidecar reports the job warming the handed list on its read-only /metrics.
    /// Complete when every pod that answers has warmed it (a pod that does not answer, through a NetworkPolicy or
    /// because it is gone, is named in the message, not waited for); Failed when a pod's job failed files. A pod that
    /// answers without the job yet (kubelet has not delivered the annotation) keeps the DataLoad Executing.
    /// </summary>
    private async Task<bool> FollowPodsAsync(FluidDataLoad load, FluidDataset dataset, CancellationToken cancel)
    {
        var progress = new List<(string Pod, PodWarmProgress Progress)>();
        foreach (var pod in PodsOf(dataset))
        {
            if (Handed(dataset, pod) is not { } handed)
            {
                continue;
            }

            var podIp = pod.Obj("status").Str("podIP");
            var metrics = podIp is { Length: > 0 } ? await podMetrics.ReadAsync(podIp, handed.Port, cancel) : null;
            progress.Add((pod.Obj("metadata").Str("name") ?? "", PodPrefetchProgress.Evaluate(metrics, handed.Plans)));
        }

        var answered = progress.Where(p => p.Progress.State != PodWarmState.Unknown).ToList();
        var warmed = answered.Count(p => p.Progress.State == PodWarmState.Warmed);
        var files = string.Create(CultureInfo.InvariantCulture, $"{answered.Sum(p => p.Progress.FilesDone)}/{answered.Sum(p => p.Progress.FilesTotal)}");
        var infos = new JsonObject
        {
            [InfoPods] = progress.Count.ToString(CultureInfo.InvariantCulture),
            [InfoPodsWarmed] = warmed.ToString(CultureInfo.InvariantCulture),
            [InfoFiles] = files,
        };
        var started = load.LastScheduleTime ?? load.Created ?? time.GetUtcNow();
        if (answered.FirstOrDefault(p => p.Progress.State == PodWarmState.Failed) is { Pod: { Length: > 0 } failedPod, Progress: var failure })
        {
            var message = $"pod {failedPod}: the warm-up failed {failure.FilesFailed} of {failure.FilesTotal} files (its sidecar's log and /status name them)";
            await FinishAsync(load, false, "PodPrefetchFailed", message, started, time.GetUtcNow(), cancel, infos);
            return false;
        }

        if (answered.Count == 0 || warmed < answered.Count)
        {
            if (load.Infos.GetValueOrDefault(InfoPodsWarmed) != infos[InfoPodsWarmed]!.GetValue<string>() || load.Infos.GetValueOrDefault(InfoFiles) != files)
            {
                await WriteStatusAsync(load, new JsonObject { ["phase"] = PhaseExecuting, ["infos"] = infos }, cancel);
            }

            return false;
        }

        var silent = progress.Where(p => p.Progress.State == PodWarmState.Unknown).Select(p => p.Pod).ToList();
        var done = $"{warmed} pod(s) of dataset '{dataset.Name}' warmed the targets into their caches ({files} files)"
            + (silent.Count > 0 ? $"; not heard from (their /metrics did not answer): {string.Join(", ", silent)}" : "");
        await FinishAsync(load, true, "PodPrefetchComplete", done, started, time.GetUtcNow(), cancel, infos);
        return false;
    }

    private List<JsonObject> PodsOf(FluidDataset dataset) =>
        cluster.Pods.InNamespace(dataset.Namespace).Where(p => DatasetReconciler.PodDatasets(p).Contains(dataset.Name)).ToList();

    /// <summary>What the pod's config holds of this DataLoad: per dataset entry the plan id of its prefetch list, and the
    /// sidecar's probe port; null when the pod has no such entries.</summary>
    private static (Dictionary<string, string> Plans, int Port)? Handed(FluidDataset dataset, JsonObject pod)
    {
        SidecarConfig? config;
        try
        {
            config = pod.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig) is { } text
                ? JsonSerializer.Deserialize(text, ContractsJsonContext.Default.SidecarConfig)
                : null;
        }
        catch (JsonException)
        {
            config = null;
        }

        var podDatasets = DatasetReconciler.PodDatasets(pod);
        var owned = config?.Datasets.Where(d => SidecarConfigRecomputer.Owner(d, podDatasets) == dataset.Name && d.Prefetch.Count > 0).ToList();
        return owned is { Count: > 0 }
            ? (owned.ToDictionary(d => d.Name, d => PrefetchPlans.IdOf(d.Prefetch), StringComparer.Ordinal), config!.Admin.Port)
            : null;
    }

    private enum HandResult
    {
        Patched,
        AlreadyThere,
        Conflict,
        Skipped,
        Refused,
    }

    private async Task<(HandResult Result, string? Reason)> HandToPodAsync(FluidDataLoad load, FluidDataset dataset, JsonObject pod, CancellationToken cancel)
    {
        var metadata = pod.Obj("metadata");
        var text = metadata.Obj("annotations").Str(Annotations.SidecarConfig);
        SidecarConfig? config;
        try
        {
            config = text is null ? null : JsonSerializer.Deserialize(text, ContractsJsonContext.Default.SidecarConfig);
        }
        catch (JsonException)
        {
            config = null;
        }

        if (config is null)
        {
            return (HandResult.Skipped, null);
        }

        var podDatasets = DatasetReconciler.PodDatasets(pod);
        var datasets = config.Datasets.Select(d => d with { }).ToList();
        var owned = datasets.Where(d => SidecarConfigRecomputer.Owner(d, podDatasets) == dataset.Name).ToList();
        if (owned.Count == 0)
        {
            return (HandResult.Skipped, null);
        }

        var before = owned.Select(d => string.Join("\n", d.Prefetch)).ToList();
        if (!DataLoadJobBuilder.TryAssignTargets(load, dataset, owned, out var error))
        {
            return (HandResult.Refused, error);
        }

        if (owned.Select(d => string.Join("\n", d.Prefetch)).SequenceEqual(before))
        {
            return (HandResult.AlreadyThere, null);
        }

        var updated = SidecarConfigRecomputer.Serialize(config with { Datasets = datasets });
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                // guarded like the Dataset controller's patches: a pod changed since the cache saw it answers 409
                ["resourceVersion"] = metadata.Str("resourceVersion"),
                ["annotations"] = new JsonObject { [Annotations.SidecarConfig] = updated },
            },
        };
        await pacer.WaitAsync(cancel);
        try
        {
            await client.CoreV1.PatchNamespacedPodAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
                metadata.Str("name"), metadata.Str("namespace") ?? "default", fieldManager: EventRecorder.Component, cancellationToken: cancel);
            return (HandResult.Patched, null);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return (HandResult.Conflict, null);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return (HandResult.Skipped, null);
        }
    }

    private async Task FinishAsync(
        FluidDataLoad load,
        bool ok,
        string reason,
        string message,
        DateTimeOffset started,
        DateTimeOffset finished,
        CancellationToken cancel,
        JsonObject? infos = null,
        DateTimeOffset? scheduled = null)
    {
        var now = Timestamp(time.GetUtcNow());
        var status = new JsonObject
        {
            ["phase"] = ok ? PhaseComplete : PhaseFailed,
            ["duration"] = Duration(finished - started),
            ["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = ok ? PhaseComplete : PhaseFailed,
                ["status"] = "True",
                ["reason"] = reason,
                ["message"] = message,
                ["lastProbeTime"] = now,
                ["lastTransitionTime"] = now,
            }),
        };
        if (infos is not null)
        {
            status["infos"] = infos;
        }

        if (scheduled is { } at)
        {
            status["lastScheduleTime"] = Timestamp(at);
        }

        if (ok && load.Policy == FluidDataLoad.PolicyCron)
        {
            status["lastSuccessfulTime"] = Timestamp(finished);
        }

        Log.Finished(logger, load.Namespace, load.Name, ok ? PhaseComplete : PhaseFailed, message);
        await WriteStatusAsync(load, status, cancel);
    }

    /// <summary>Fails the DataLoad once (a Cron DataLoad too: its spec must be fixed) and names the reason.</summary>
    private async Task<bool> FailOnceAsync(FluidDataLoad load, string reason, CancellationToken cancel)
    {
        if (load.Phase == PhaseFailed && load.Infos.GetValueOrDefault(InfoMessage) == reason)
        {
            return false;
        }

        Log.Rejected(logger, load.Namespace, load.Name, reason);
        var now = time.GetUtcNow();
        await FinishAsync(load, false, "DataLoadRejected", reason, now, now, cancel, new JsonObject { [InfoMessage] = reason });
        return false;
    }

    private async Task WritePendingAsync(FluidDataLoad load, bool? operationComplete, CancellationToken cancel)
    {
        if (load.Phase == PhasePending || (load.Phase.Length > 0 && load.Policy == FluidDataLoad.PolicyCron))
        {
            return;
        }

        var status = new JsonObject { ["phase"] = PhasePending, ["duration"] = "Unfinished", ["conditions"] = new JsonArray() };
        if (operationComplete is { } complete)
        {
            status["waitingFor"] = new JsonObject { ["operationComplete"] = complete };
        }

        await WriteStatusAsync(load, status, cancel);
    }

    private async Task WriteStatusAsync(FluidDataLoad load, JsonObject status, CancellationToken cancel)
    {
        await pacer.WaitAsync(cancel);
        try
        {
            await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(new JsonObject { ["status"] = status }.ToJsonString(), V1Patch.PatchType.MergePatch),
                FluidDataLoad.ApiGroup, FluidDataLoad.ApiVersion, load.Namespace, FluidDataLoad.Plural, load.Name, fieldManager: EventRecorder.Component, cancellationToken: cancel);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // deleted meanwhile
        }
    }

    private void SayOnce(FluidDataLoad load, string what, Action log)
    {
        if (_said.TryAdd((load.Namespace, load.Name, what), true))
        {
            log();
        }
    }

    private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>As Fluid writes status.duration (Go's time.Duration, whole seconds): "45s", "2m5s", "1h0m3s".</summary>
    public static string Duration(TimeSpan span)
    {
        var seconds = (long)Math.Max(0, Math.Round(span.TotalSeconds));
        var (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        return h > 0 ? string.Create(CultureInfo.InvariantCulture, $"{h}h{m}m{s}s")
            : m > 0 ? string.Create(CultureInfo.InvariantCulture, $"{m}m{s}s")
            : string.Create(CultureInfo.InvariantCulture, $"{s}s");
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.DataLoadLeftToFluid, LogLevel.Information, "controller: DataLoad {Namespace}/{DataLoad} left to Fluid: dataset '{Dataset}' is bound to runtime {Runtime}, whose controller runs its DataLoads")]
        public static partial void LeftToFluid(ILogger logger, string @namespace, string dataLoad, string dataset, string runtime);

        [LoggerMessage(EventIds.DataLoadStarted, LogLevel.Information, "controller: DataLoad {Namespace}/{DataLoad} runs as Job {Job} (warm: {Targets})")]
        public static partial void Started(ILogger logger, string @namespace, string dataLoad, string job, string targets);

        [LoggerMessage(EventIds.DataLoadFinished, LogLevel.Information, "controller: DataLoad {Namespace}/{DataLoad} is {Phase}: {Message}")]
        public static partial void Finished(ILogger logger, string @namespace, string dataLoad, string phase, string message);

        [LoggerMessage(EventIds.DataLoadRejected, LogLevel.Warning, "controller: DataLoad {Namespace}/{DataLoad} cannot run: {Reason}")]
        public static partial void Rejected(ILogger logger, string @namespace, string dataLoad, string reason);

        [LoggerMessage(EventIds.DataLoadWaiting, LogLevel.Information, "controller: DataLoad {Namespace}/{DataLoad} waits: {Reason}")]
        public static partial void Waiting(ILogger logger, string @namespace, string dataLoad, string reason);

        [LoggerMessage(EventIds.DataLoadPassFailed, LogLevel.Warning, "controller: pass over DataLoad {Namespace}/{DataLoad} failed, retried on the next change or tick: {Reason}")]
        public static partial void PassFailed(ILogger logger, string @namespace, string dataLoad, string reason);

        [LoggerMessage(EventIds.DataLoadPodsPatched, LogLevel.Information, "controller: DataLoad {Namespace}/{DataLoad}: {Pods} running pod(s) of dataset '{Dataset}' have its targets in their prefetch list")]
        public static partial void PodsPatched(ILogger logger, string @namespace, string dataLoad, int pods, string dataset);
    }
}
