using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Injected pods whose sidecar differs from what the injector adds now: another image (the pod's allowed override
/// counts), or another template (<see cref="SidecarTemplate"/>: the sidecar's shape and config schema), as the status
/// annotation recorded them at admission. Reported once per workload, with the command that rolls it.
/// </summary>
internal sealed class OutdatedSidecarAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var template = SidecarTemplate.Hash(snapshot.Options);
        var outdated = new List<(JsonObject, string)>();
        foreach (var pod in snapshot.LivePods())
        {
            if (ClusterSnapshot.InjectionStatus(pod) is not { } status)
            {
                continue;
            }

            var differences = new List<string>();
            var image = status.Str("image") ?? SidecarImageInSpec(pod, status.Str("sidecar"));
            var wanted = WantedImage(pod, snapshot);
            if (image != wanted)
            {
                differences.Add($"image {image ?? "(unknown)"}, the injector adds {wanted}");
            }

            var recorded = status.Str("template");
            if (recorded != template)
            {
                differences.Add(recorded is null
                    ? "template not recorded (injected by an older injector)"
                    : $"template {recorded}, the injector adds {template}");
            }

            if (differences.Count > 0)
            {
                outdated.Add((pod, string.Join("; ", differences)));
            }
        }

        foreach (var (workload, difference, pods) in Workloads.Group(outdated, snapshot))
        {
            yield return new Finding(FindingCodes.OutdatedSidecar, Severity.Warning, workload,
                $"{Workloads.Describe(workload, pods.Count)} {Workloads.Verb(pods.Count, "runs", "run")} an outdated sidecar: {difference}",
                $"roll the workload so the webhook injects the current sidecar: {Workloads.RolloutFix(workload)}", pods);
        }
    }

    /// <summary>The image admission would pick for this pod now: its override when still allowed, else the injector's.</summary>
    private static string WantedImage(JsonObject pod, ClusterSnapshot snapshot)
    {
        var labels = pod.Obj("metadata").StringMap("labels");
        var policy = snapshot.State.Policies(ClusterSnapshot.NamespaceOf(pod)).FirstOrDefault(p => p.Selector.Matches(labels));
        var settings = InjectionSettingsResolver.Resolve(pod.Obj("metadata").StringMap("annotations"), policy, snapshot.Options, out _);
        return settings.SidecarImage ?? snapshot.Options.SidecarImage;
    }

    private static string? SidecarImageInSpec(JsonObject pod, string? sidecar)
    {
        var spec = pod.Obj("spec");
        return spec.Arr("initContainers").Objects().Concat(spec.Arr("containers").Objects()).FirstOrDefault(c => c.Str("name") == sidecar)?.Str("image");
    }
}
