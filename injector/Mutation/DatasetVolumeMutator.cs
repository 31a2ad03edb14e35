using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Turns each dataset's volume into a shared emptyDir: a Dataset PVC volume keeps its name (so every container's
/// mountPath/subPath/readOnly stays as written) and only its source changes; a dataset named in the annotation with a
/// path gets a new volume mounted at that path in the app containers. The sidecar mounts each volume to fill it.
/// </summary>
internal sealed class DatasetVolumeMutator : IPodMutator
{
    public void Mutate(MutationContext context)
    {
        var volumes = context.Spec.EnsureArr("volumes");
        foreach (var dataset in context.Plan.Datasets)
        {
            if (dataset.VolumeName is not { } volumeName)
            {
                continue;
            }

            if (dataset.ReplacesClaim)
            {
                var volume = volumes.Objects().First(v => v.Str("name") == volumeName);
                volume.Remove("persistentVolumeClaim");
                volume["emptyDir"] = context.SharedEmptyDir();
                context.TouchedVolumes.Add(volumeName);
                if (!dataset.Dataset.Writable && context.Plan.Mode != Contracts.DatasetModes.S3)
                {
                    // A copy of a read-only dataset is an ordinary directory: without this, writes would succeed
                    // and go nowhere. The planner warned where the pod's own mount asked for write access.
                    foreach (var mount in context.DataConsumers().SelectMany(c => c.Arr("volumeMounts").Objects()).Where(m => m.Str("name") == volumeName))
                    {
                        mount["readOnly"] = true;
                    }
                }
            }
            else
            {
                context.AddVolume(volumeName, new JsonObject { ["emptyDir"] = context.SharedEmptyDir() });
            }

            foreach (var container in context.DataConsumers().Where(c => context.Plan.AppContainers.Contains(c.Str("name") ?? "")))
            {
                var mounts = container.EnsureArr("volumeMounts");
                foreach (var path in dataset.ExtraAppMountPaths)
                {
                    if (!mounts.Objects().Any(m => m.Str("mountPath") == path))
                    {
                        // readOnly: false is Kubernetes' default and its typed round trip drops it: leave it out
                        var mount = new JsonObject { ["name"] = volumeName, ["mountPath"] = path };
                        if (!dataset.Dataset.Writable)
                        {
                            mount["readOnly"] = true;
                        }

                        mounts.Add(mount);
                    }
                }
            }

            if (context.Plan.Mode != Contracts.DatasetModes.S3)
            {
                context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
                {
                    ["name"] = volumeName,
                    ["mountPath"] = InjectionPlan.SidecarMountPath(dataset),
                });
            }
        }
    }
}
