using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Writes the sidecar config (datasets, mount paths, mode, cache, prefetch; never secrets) into the
/// serverless.fluid.io/sidecar-config annotation and exposes the pod's annotations to the sidecar through a
/// downward-API volume, so editing the annotation later reaches the running sidecar without recreating the pod.
/// </summary>
internal sealed class SidecarConfigMutator : IPodMutator
{
    public const string PreferredVolumeName = "fluid-serverless-podinfo";

    public void Mutate(MutationContext context)
    {
        var config = context.Plan.SidecarConfig ?? Build(context.Plan);
        var json = JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig);
        context.Pod.EnsureObj("metadata").EnsureObj("annotations")[Annotations.SidecarConfig] = json;

        var volume = context.AddVolume(PreferredVolumeName, new JsonObject
        {
            ["downwardAPI"] = new JsonObject
            {
                ["items"] = new JsonArray(new JsonObject
                {
                    ["path"] = "annotations",
                    ["fieldRef"] = new JsonObject { ["fieldPath"] = "metadata.annotations" },
                }),
            },
        });
        context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
        {
            ["name"] = volume.Str("name"),
            ["mountPath"] = SidecarDefaults.PodInfoDirectory,
            ["readOnly"] = true,
        });
        context.Sidecar.EnsureArr("env").Insert(0, new JsonObject
        {
            ["name"] = EnvironmentNames.SidecarAnnotationsFile,
            ["value"] = SidecarDefaults.AnnotationsFile,
        });
    }

    public static SidecarConfig Build(InjectionPlan plan) => new()
    {
        Mode = plan.Mode,
        S3 = new EndpointConfig { Address = SidecarDefaults.S3Address, Port = plan.Options.S3Port },
        Admin = new AdminEndpointConfig { Address = SidecarDefaults.AdminAddress, Port = plan.Options.AdminPort, LocalPort = plan.Options.AdminLocalPort },
        Cache = new CacheConfig { QuotaBytes = plan.Settings.CacheSizeBytes, Medium = plan.Settings.CacheMedium },
        Prefetch = new PrefetchConfig { WaitForReady = plan.Settings.WaitForPrefetch },
        Datasets = [.. plan.Datasets.SelectMany(d => d.Configs)],
        SharedCache = plan.SharedCache,
        DropPrivileges = plan.Mode == DatasetModes.Fuse && plan.Options.FuseDropPrivileges ? new DropPrivilegesConfig() : null,
        Credentials = plan.Settings.S3Auth == S3AuthPostures.Strict
            ? new PodCredentialsConfig { GeneratedFile = SidecarDefaults.GeneratedCredentialsFile }
            : null,
    };
}
