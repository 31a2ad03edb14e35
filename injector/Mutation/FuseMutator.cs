using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// FUSE mode: the sidecar mounts each dataset inside its emptyDir with Bidirectional propagation (which needs a
/// privileged container and /dev/fuse), and every other container sees that mount through HostToContainer.
/// Without HostToContainer the app would see the empty directory under the FUSE mount.
/// </summary>
internal sealed class FuseMutator : IPodMutator
{
    public const string PreferredVolumeName = "fluid-serverless-dev-fuse";

    public void Mutate(MutationContext context)
    {
        if (context.Plan.Mode != DatasetModes.Fuse)
        {
            return;
        }

        var datasetVolumes = context.DatasetVolumeNames.ToHashSet(StringComparer.Ordinal);
        foreach (var mount in context.Sidecar.EnsureArr("volumeMounts").Objects())
        {
            if (datasetVolumes.Contains(mount.Str("name") ?? ""))
            {
                mount["mountPropagation"] = "Bidirectional";
            }
        }

        var device = context.AddVolume(PreferredVolumeName, new JsonObject
        {
            ["hostPath"] = new JsonObject { ["path"] = "/dev/fuse", ["type"] = "CharDevice" },
        });
        context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject { ["name"] = device.Str("name"), ["mountPath"] = "/dev/fuse" });

        var containers = context.Spec.Arr("containers").Objects().Concat(context.Spec.Arr("initContainers").Objects());
        foreach (var container in containers)
        {
            if (ReferenceEquals(container, context.Sidecar))
            {
                continue;
            }

            foreach (var mount in container.Arr("volumeMounts").Objects())
            {
                if (datasetVolumes.Contains(mount.Str("name") ?? "") && mount.Str("mountPropagation") is null)
                {
                    mount["mountPropagation"] = "HostToContainer";
                }
            }
        }
    }
}
