using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>Marks the pod injected (status annotation with what was added + done label): a re-invocation or a second
/// admission of the same pod then changes nothing.</summary>
internal sealed class MarkerMutator : IPodMutator
{
    public void Mutate(MutationContext context)
    {
        var plan = context.Plan;
        var status = new JsonObject
        {
            ["version"] = 1,
            ["sidecar"] = context.SidecarName,
            ["image"] = plan.SidecarImage,
            ["template"] = SidecarTemplate.Hash(plan.Options),
            ["native"] = plan.NativeSidecar,
            ["mode"] = plan.Mode,
            ["platform"] = plan.Platform.Name,
            ["datasets"] = plan.Datasets.Select(d => d.Dataset.Name).ToJsonArray(),
            ["volumes"] = context.TouchedVolumes.ToJsonArray(),
            ["containers"] = context.DataConsumers().Select(c => c.Str("name") ?? "").ToJsonArray(),
        };
        var metadata = context.Pod.EnsureObj("metadata");
        metadata.EnsureObj("annotations")[Annotations.Status] = status.ToJsonString();
        metadata.EnsureObj("labels")[Annotations.InjectedLabel] = "true";
    }
}
