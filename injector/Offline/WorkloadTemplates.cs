using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Offline;

/// <summary>Where a workload manifest keeps its pod: Pod itself, spec.template (Deployment, StatefulSet, DaemonSet,
/// ReplicaSet, Job, Knative Service) or spec.jobTemplate.spec.template (CronJob).</summary>
internal static class WorkloadTemplates
{
    /// <summary>The pod template object (metadata + spec) or null when the manifest holds no pod.</summary>
    public static JsonObject? FindTemplate(JsonObject manifest, out string? platformHint)
    {
        platformHint = null;
        var apiVersion = manifest.Str("apiVersion") ?? "";
        switch (manifest.Str("kind"))
        {
            case "Pod":
                return manifest;
            case "Deployment" or "StatefulSet" or "DaemonSet" or "ReplicaSet" or "Job" when !apiVersion.StartsWith("serving.knative.dev", StringComparison.Ordinal):
                return manifest.Obj("spec").Obj("template");
            case "CronJob":
                return manifest.Obj("spec").Obj("jobTemplate").Obj("spec").Obj("template");
            case "Service" when apiVersion.StartsWith("serving.knative.dev/", StringComparison.Ordinal):
                platformHint = Platforms.Knative;
                return manifest.Obj("spec").Obj("template");
            default:
                return null;
        }
    }

    public static string Describe(JsonObject manifest) =>
        $"{manifest.Str("kind")}/{manifest.Obj("metadata").Str("name") ?? manifest.Obj("metadata").Str("generateName") ?? "(unnamed)"}";
}
