using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <param name="Name">default, knative, eci or knative+eci.</param>
/// <param name="Knative">Only the user container is touched; queue-proxy never is.</param>
/// <param name="Unprivileged">ECI / virtual-kubelet: no FUSE and no privileged container unless the pod asks.</param>
internal sealed record PlatformProfile(string Name, bool Knative, bool Unprivileged)
{
    public const string KnativeRevisionLabel = "serving.knative.dev/revision";
    public const string KnativeUserContainer = "user-container";
    public const string KnativeQueueProxy = "queue-proxy";
    public const string EciLabel = "alibabacloud.com/eci";

    public static PlatformProfile Detect(JsonObject pod, string requested)
    {
        switch (requested)
        {
            case Platforms.Default:
                return new(Platforms.Default, false, false);
            case Platforms.Knative:
                return new(Platforms.Knative, true, false);
            case Platforms.Eci:
                return new(Platforms.Eci, false, true);
        }

        var labels = pod.Obj("metadata").StringMap("labels");
        var knative = labels.ContainsKey(KnativeRevisionLabel);
        var eci = labels.GetValueOrDefault(EciLabel) == "true" || OnVirtualKubelet(pod);
        var name = (knative, eci) switch
        {
            (true, true) => "knative+eci",
            (true, false) => Platforms.Knative,
            (false, true) => Platforms.Eci,
            _ => Platforms.Default,
        };
        return new(name, knative, eci);
    }

    private static bool OnVirtualKubelet(JsonObject pod)
    {
        var spec = pod.Obj("spec");
        foreach (var (key, value) in spec.StringMap("nodeSelector"))
        {
            if (key.Contains("virtual-kubelet", StringComparison.Ordinal) || value.Contains("virtual-kubelet", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return spec.Arr("tolerations").Objects().Any(t =>
            (t.Str("key") ?? "").Contains("virtual-kubelet", StringComparison.Ordinal) ||
            (t.Str("value") ?? "").Contains("virtual-kubelet", StringComparison.Ordinal));
    }
}
