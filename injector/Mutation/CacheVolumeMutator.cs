using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>The sidecar's block cache and upload staging: an emptyDir (medium Memory for cache-medium=memory) whose
/// sizeLimit holds the cache quota (cache-size), the staging budget and headroom, so that everything the sidecar
/// writes there stays under the limit at which the kubelet evicts the pod.</summary>
internal sealed class CacheVolumeMutator : IPodMutator
{
    public const string PreferredName = "fluid-serverless-cache";

    public void Mutate(MutationContext context)
    {
        var emptyDir = context.SharedEmptyDir();
        var sizeBytes = SidecarDefaults.CacheVolumeSizeBytes(context.Plan.Settings.CacheSizeBytes, SidecarDefaults.UploadStagingBytes);
        emptyDir["sizeLimit"] = (sizeBytes / (1024 * 1024)).ToString(System.Globalization.CultureInfo.InvariantCulture) + "Mi";
        var volume = context.AddVolume(PreferredName, new JsonObject { ["emptyDir"] = emptyDir });
        context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
        {
            ["name"] = volume.Str("name"),
            ["mountPath"] = new CacheConfig().Directory,
        });
    }
}
