using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// The workload that owns a pod (controller ownerReferences, followed ReplicaSet → Deployment and Job → CronJob; a
/// Knative revision's pod belongs to its Knative Service), so findings about many pods are reported once per workload
/// with the command that replaces its pods.
/// </summary>
internal static class Workloads
{
    /// <summary>Knative Serving labels every revision pod with its Service; the Deployment between them is Knative's.</summary>
    public const string KnativeServiceLabel = "serving.knative.dev/service";
    public const string KnativeServiceKind = "Service.serving.knative.dev";

    public static ObjectRef OwnerOf(JsonObject pod, ClusterSnapshot snapshot)
    {
        var @namespace = ClusterSnapshot.NamespaceOf(pod);
        if (pod.Obj("metadata").StringMap("labels").GetValueOrDefault(KnativeServiceLabel) is { Length: > 0 } knativeService)
        {
            return new ObjectRef(KnativeServiceKind, @namespace, knativeService);
        }

        if (ControllerOf(pod) is not var (kind, name))
        {
            return new ObjectRef("Pod", @namespace, ClusterSnapshot.NameOf(pod));
        }

        var parent = kind switch
        {
            "ReplicaSet" => snapshot.ReplicaSets.GetValueOrDefault((@namespace, name)),
            "Job" => snapshot.Jobs.GetValueOrDefault((@namespace, name)),
            _ => null,
        };
        return parent is not null && ControllerOf(parent) is var (parentKind, parentName) && parentKind is "Deployment" or "CronJob"
            ? new ObjectRef(parentKind, @namespace, parentName)
            : new ObjectRef(kind, @namespace, name);
    }

    /// <summary>What replaces a workload's pods, so the webhook injects them again.</summary>
    public static string RolloutFix(ObjectRef workload) => workload.Kind switch
    {
        "Deployment" or "StatefulSet" or "DaemonSet" =>
            $"kubectl rollout restart {workload.Kind.ToLowerInvariant()}/{workload.Name} -n {workload.Namespace}",
        // Knative reconciles its Deployments back: a new revision (any template change) replaces the pods
        KnativeServiceKind => $"roll a new revision: kubectl patch ksvc {workload.Name} -n {workload.Namespace} --type merge "
            + "-p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"'$(date -Iseconds)'\"}}}}}'",
        "CronJob" => $"the next run of CronJob {workload.Namespace}/{workload.Name} gets a new pod; to replace a running one, delete its Job",
        "Job" => $"recreate Job {workload.Namespace}/{workload.Name} (kubectl replace --force -f …); a Job does not replace running pods",
        "Pod" => $"recreate the pod: kubectl get pod {workload.Name} -n {workload.Namespace} -o yaml > pod.yaml, then kubectl replace --force -f pod.yaml",
        _ => $"delete the pods of {workload} one at a time (kubectl delete pod -n {workload.Namespace} NAME); its controller creates them again",
    };

    private static (string Kind, string Name)? ControllerOf(JsonObject obj)
    {
        var owners = obj.Obj("metadata").Arr("ownerReferences").Objects().ToList();
        var owner = owners.FirstOrDefault(o => o.Bool("controller") == true) ?? owners.FirstOrDefault();
        return owner?.Str("kind") is { } kind && owner.Str("name") is { } name ? (kind, name) : null;
    }

    /// <summary>Groups per-pod results by (workload, key) in a stable order: workload, then key, then pod name.</summary>
    public static IEnumerable<(ObjectRef Workload, TKey Key, IReadOnlyList<string> Pods)> Group<TKey>(
        IEnumerable<(JsonObject Pod, TKey Key)> items, ClusterSnapshot snapshot)
        where TKey : notnull =>
        items.Select(item => (Owner: OwnerOf(item.Pod, snapshot), item.Key, Pod: ClusterSnapshot.NameOf(item.Pod)))
            .GroupBy(item => (item.Owner, item.Key))
            .OrderBy(g => g.Key.Owner.Namespace, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Owner.Kind, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Owner.Name, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Key.ToString(), StringComparer.Ordinal)
            .Select(g => (g.Key.Owner, g.Key.Key, (IReadOnlyList<string>)[.. g.Select(i => i.Pod).Order(StringComparer.Ordinal)]));

    /// <summary>"2 pods of Deployment team/web" / "Pod team/solo".</summary>
    public static string Describe(ObjectRef workload, int pods) =>
        workload.Kind == "Pod" ? $"{workload}" : $"{pods} pod{(pods == 1 ? "" : "s")} of {workload}";

    /// <summary>The verb form that agrees with <see cref="Describe"/>: "runs" for one pod, "run" for several.</summary>
    public static string Verb(int pods, string singular, string plural) => pods == 1 ? singular : plural;
}
