using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Mutation;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Pods the webhook would inject now (the same decision and plan admission runs) but that carry no sidecar: created
/// before the injector was installed, while its webhook was unavailable, or before a namespace or policy opted
/// them in. Pods that opted in but would be denied now are reported with the denial.
/// </summary>
internal sealed class NotInjectedPodAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var injector = new PodInjector(snapshot.State, snapshot.Options);
        var missing = new List<(JsonObject, (bool Denied, string Reason))>();
        foreach (var pod in snapshot.LivePods().Where(p => ClusterSnapshot.InjectionStatus(p) is null))
        {
            var outcome = injector.Inject(pod, ClusterSnapshot.NamespaceOf(pod));
            switch (outcome.Kind)
            {
                case InjectionOutcomeKind.Injected:
                    missing.Add((pod, (false, outcome.Decision?.Reason ?? "")));
                    break;
                case InjectionOutcomeKind.Denied when outcome.Decision?.Inject == true:
                    missing.Add((pod, (true, outcome.Reason)));
                    break;
            }
        }

        foreach (var (workload, (denied, reason), pods) in Workloads.Group(missing, snapshot))
        {
            var who = Workloads.Describe(workload, pods.Count);
            var carry = Workloads.Verb(pods.Count, "carries", "carry");
            yield return denied
                ? new Finding(FindingCodes.NotInjected, Severity.Warning, workload,
                    $"{who} opted in but {carry} no sidecar, and the webhook would deny {Workloads.Verb(pods.Count, "it", "them")} now: {reason}",
                    $"fix what the denial names, then replace the pods: {Workloads.RolloutFix(workload)}", pods)
                : new Finding(FindingCodes.NotInjected, Severity.Warning, workload,
                    $"{who} opted in ({reason}) but {carry} no sidecar: created before the injector was installed, while its webhook was unavailable, or before they were opted in",
                    $"replace the pods so the webhook injects them: {Workloads.RolloutFix(workload)}", pods);
        }
    }
}
