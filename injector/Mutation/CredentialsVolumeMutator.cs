using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Strict posture only: the volume that carries the sidecar's generated credentials file to the app. An emptyDir (the
/// sidecar's root file system is read-only), in memory and tiny: the sidecar mounts it read-write and writes
/// <see cref="SidecarDefaults.GeneratedCredentialsFile"/> before it turns ready; the app containers mount it read-only.
/// No secret is in the pod spec.
/// </summary>
internal sealed class CredentialsVolumeMutator : IPodMutator
{
    public const string PreferredName = "fluid-serverless-aws-credentials";

    public void Mutate(MutationContext context)
    {
        if (context.Plan.Settings.S3Auth != S3AuthPostures.Strict)
        {
            return;
        }

        var volume = context.AddVolume(PreferredName, new JsonObject
        {
            ["emptyDir"] = new JsonObject { ["medium"] = "Memory", ["sizeLimit"] = "1Mi" },
        });
        var name = volume.Str("name");
        context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
        {
            ["name"] = name,
            ["mountPath"] = SidecarDefaults.CredentialsDirectory,
        });
        foreach (var container in context.DataConsumers())
        {
            container.EnsureArr("volumeMounts").Add(new JsonObject
            {
                ["name"] = name,
                ["mountPath"] = SidecarDefaults.CredentialsDirectory,
                ["readOnly"] = true,
            });
        }
    }
}
