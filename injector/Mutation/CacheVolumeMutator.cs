using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>The sidecar's block cache: an emptyDir sized by cache-size (medium Memory for cache-medium=memory), so the
/// kubelet accounts for it and evicts a pod that overfills it instead of the node filling up.</summary>
internal sealed class CacheVolumeMutator : IPodMutator
{
    public const string PreferredName = "fluid-serverless-cache";

    public void Mutate(MutationContext context)
    {
        var volume = context.AddVolume(PreferredName, new JsonObject { ["emptyDir"] = context.SharedEmptyDir() });
        context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
        {
            ["name"] = volume.Str("name"),
            ["mountPath"] = new CacheConfig().Directory,
        });
    }
}
