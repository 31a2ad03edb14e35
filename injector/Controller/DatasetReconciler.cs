using System.Net;
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
/// Applies Dataset edits to the running pods that use them. A Dataset change (from the watch cache) queues the Dataset
/// once; a pass finds its pods from their status annotation (<c>datasets</c>), recomputes each pod's sidecar config
/// (<see cref="SidecarConfigRecomputer"/>) and, where it differs, merge-patches the <c>sidecar-config</c> annotation
/// (guarded by the pod's resourceVersion). The sidecar reloads it from its downward-API file. A change the pod cannot
/// take live is not patched: the pod gets a condition in its status annotation and an Event, the Dataset one Event per
/// pass. Every write waits for the shared <see cref="PatchPacer"/>. A pass stops early when the Dataset changes again
/// (the next pass applies the newest version), so each pod is patched once per version it must reach.
/// </summary>
internal sealed partial class DatasetReconciler(
    IKubernetes client,
    ClusterState cluster,
    InjectorOptions options,
    PatchPacer pacer,
    EventRecorder events,
    ControllerMetrics metrics,
    TimeProvider time,
    ILogger<DatasetReconciler> logger,
    TimeSpan resync,
    bool writeDatasetStatus = false) : IReconciler
{
    // pod counts last written to each Dataset's status (after a restart each is written once more)
    private readonly Dictionary<(string Namespace, string Name), int> _reportedPods = [];

    public string Name => "Dataset";

    public Task RunAsync(CancellationToken cancel) => ReconcileLoop.RunAsync(
        cluster,
        time,
        resync,
        OnChange,
        () => cluster.Keys("Dataset"),
        ReconcileAsync,
        (@namespace, name, exception) => Log.PassFailed(logger, @namespace, name, exception.Message),
        cancel);

    private void OnChange(ClusterChange change, WorkQueue<(string, string)> queue)
    {
        if (change.Removed)
        {
            // a deleted Dataset leaves its pods as they are; a deleted pod only changes the Datasets' pod counts
            if (change.Kind == "Pod" && writeDatasetStatus)
            {
                foreach (var key in cluster.Keys("Dataset").Where(k => k.Namespace == change.Namespace))
                {
                    queue.Add(key);
                }
            }

            return;
        }

        if (change.Kind == "Dataset")
        {
            queue.Add((change.Namespace, change.Name));
        }
        else if (change.Kind == "Pod" && cluster.Pods.Find(change.Namespace, change.Name) is { } pod)
        {
            // a pod admitted just before an edit may reach the cache after that edit's pass
            foreach (var dataset in PodDatasets(pod))
            {
                queue.Add((change.Namespace, dataset));
            }
        }
    }

    /// <returns>True when a pod changed under the pass (409) and the Dataset must be reconciled again.</returns>
    public async Task<bool> ReconcileAsync(string @namespace, string name, CancellationToken cancel)
    {
        if (cluster.FindDataset(@namespace, name) is not { } dataset)
        {
            return false;
        }

        var retry = false;
        var recreate = new List<(string Pod, string Reason)>();
        string? invalid = null;
        var pods = cluster.Pods.InNamespace(@namespace).Where(p => PodDatasets(p).Contains(name)).ToList();
        if (writeDatasetStatus)
        {
            await WritePodCountAsync(@namespace, name, pods.Count, cancel);
        }

        foreach (var pod in pods)
        {
            if (cluster.FindDataset(@namespace, name) is not { } latest || SpecKey(latest) != SpecKey(dataset))
            {
                break; // edited again: that edit's pass applies the newest version (a status update does not count)
            }

            var podName = pod.Obj("metadata").Str("name") ?? "";
            var update = SidecarConfigRecomputer.Recompute(pod, dataset, cluster.NamespaceLabels(@namespace), options, cluster);
            switch (update.Kind)
            {
                case PodUpdateKind.Patch:
                    var status = PodConditions.WithCondition(pod, name, applied: true, PodConditions.ReasonApplied, "sidecar config updated from the Dataset", time.GetUtcNow());
                    var patched = await PatchAnnotationsAsync(pod, new JsonObject { [Annotations.SidecarConfig] = update.SidecarConfig, [Annotations.Status] = status }, cancel);
                    if (patched == PatchResult.Done)
                    {
                        metrics.Patched();
                        Log.Patched(logger, @namespace, podName, name);
                    }

                    retry |= patched == PatchResult.Conflict;

                    break;
                case PodUpdateKind.RecreateRequired:
                    if (PodConditions.Find(pod, name) is { } known && known.Str("status") == "False" && known.Str("message") == update.Reason)
                    {
                        break; // already reported for this version of the Dataset
                    }

                    var condition = PodConditions.WithCondition(pod, name, applied: false, PodConditions.ReasonRecreateRequired, update.Reason, time.GetUtcNow());
                    var marked = await PatchAnnotationsAsync(pod, new JsonObject { [Annotations.Status] = condition }, cancel);
                    if (marked != PatchResult.Done)
                    {
                        retry |= marked == PatchResult.Conflict;
                        break;
                    }

                    metrics.NeedsRecreate();
                    recreate.Add((podName, update.Reason));
                    Log.RecreateRequired(logger, @namespace, podName, name, update.Reason);
                    await pacer.WaitAsync(cancel);
                    await events.WarnAsync("v1", "Pod", @namespace, podName, pod.Obj("metadata").Str("uid"), PodConditions.ReasonRecreateRequired,
                        $"Dataset '{name}' changed: {update.Reason}", cancel);
                    break;
                case PodUpdateKind.Invalid:
                    invalid ??= update.Reason;
                    break;
            }
        }

        if (recreate.Count > 0)
        {
            var named = string.Join(", ", recreate.Take(10).Select(r => r.Pod)) + (recreate.Count > 10 ? $" and {recreate.Count - 10} more" : "");
            await pacer.WaitAsync(cancel);
            await events.WarnAsync($"{FluidDataset.ApiGroup}/{FluidDataset.ApiVersion}", "Dataset", @namespace, name, null, PodConditions.ReasonRecreateRequired,
                $"{recreate.Count} running pod(s) cannot take this change live ({named}): {recreate[0].Reason}", cancel);
        }

        if (invalid is not null)
        {
            Log.NotApplied(logger, @namespace, name, invalid);
        }

        return retry;
    }

    /// <summary>What of a Dataset reaches the sidecar config: its mounts and access mode (not its status).</summary>
    private static string SpecKey(FluidDataset dataset) => string.Join("\n", dataset.Mounts.Select(m => string.Join("\t",
        m.Name, m.MountPoint, m.Path ?? "", m.ReadOnly,
        string.Join(",", m.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => o.Key + "=" + o.Value)),
        string.Join(",", m.Secrets.Select(x => x.OptionName + "=" + x.SecretName + "/" + x.SecretKey))))) + "\n" + dataset.Writable;

    /// <summary>status.serverless.pods of the Dataset (status subresource), written when the count changed.</summary>
    private async Task WritePodCountAsync(string @namespace, string name, int count, CancellationToken cancel)
    {
        if (_reportedPods.TryGetValue((@namespace, name), out var reported) && reported == count)
        {
            return;
        }

        var patch = new JsonObject { ["status"] = new JsonObject { ["serverless"] = new JsonObject { ["pods"] = count } } };
        await pacer.WaitAsync(cancel);
        try
        {
            await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
                FluidDataset.ApiGroup, FluidDataset.ApiVersion, @namespace, FluidDataset.Plural, name, fieldManager: EventRecorder.Component, cancellationToken: cancel);
            _reportedPods[(@namespace, name)] = count;
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // deleted meanwhile
        }
    }

    private enum PatchResult
    {
        Done,
        Conflict,
        Gone,
    }

    /// <returns>Conflict when the pod changed since the cache saw it (409), Gone when it was deleted (404).</returns>
    private async Task<PatchResult> PatchAnnotationsAsync(JsonObject pod, JsonObject annotations, CancellationToken cancel)
    {
        var metadata = pod.Obj("metadata");
        var patch = new JsonObject
        {
            // the resourceVersion makes the API server refuse (409) a patch computed from a stale copy of the pod
            ["metadata"] = new JsonObject { ["resourceVersion"] = metadata.Str("resourceVersion"), ["annotations"] = annotations },
        };
        await pacer.WaitAsync(cancel);
        try
        {
            await client.CoreV1.PatchNamespacedPodAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
                metadata.Str("name"), metadata.Str("namespace") ?? "default", fieldManager: EventRecorder.Component, cancellationToken: cancel);
            return PatchResult.Done;
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
        {
            metrics.Conflict();
            return PatchResult.Conflict;
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return PatchResult.Gone;
        }
    }

    /// <summary>The datasets a pod uses, from the status annotation the injector wrote when it admitted the pod.</summary>
    public static IReadOnlyList<string> PodDatasets(JsonObject pod)
    {
        var text = pod.Obj("metadata").Obj("annotations").Str(Annotations.Status);
        try
        {
            return text is not null && JsonNode.Parse(text) is JsonObject status
                ? [.. (status.Arr("datasets") ?? []).Select(d => d?.ToString() ?? "")]
                : [];
        }
        catch (System.Text.Json.JsonException)
        {
            return [];
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ControllerPodPatched, LogLevel.Information, "controller: pod {Namespace}/{Pod} gets the new sidecar config of dataset '{Dataset}'")]
        public static partial void Patched(ILogger logger, string @namespace, string pod, string dataset);

        [LoggerMessage(EventIds.ControllerRecreateRequired, LogLevel.Warning, "controller: pod {Namespace}/{Pod} cannot take the change of dataset '{Dataset}' live: {Reason}")]
        public static partial void RecreateRequired(ILogger logger, string @namespace, string pod, string dataset, string reason);

        [LoggerMessage(EventIds.ControllerNotApplied, LogLevel.Warning, "controller: dataset {Namespace}/{Dataset} not applied to its pods: {Reason}")]
        public static partial void NotApplied(ILogger logger, string @namespace, string dataset, string reason);

        [LoggerMessage(EventIds.ControllerPassFailed, LogLevel.Warning, "controller: pass over dataset {Namespace}/{Dataset} failed, retried on the next change or resync: {Reason}")]
        public static partial void PassFailed(ILogger logger, string @namespace, string dataset, string reason);
    }
}
