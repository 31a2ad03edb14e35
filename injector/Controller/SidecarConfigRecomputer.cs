using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Controller;

internal enum PodUpdateKind
{
    /// <summary>The pod's sidecar config already matches the Dataset.</summary>
    UpToDate,

    /// <summary>The new sidecar config can be applied live: patch the annotation.</summary>
    Patch,

    /// <summary>The change needs something the pod was not admitted with (a Secret, a volume, write access).</summary>
    RecreateRequired,

    /// <summary>The pod's annotations or the Dataset cannot be read; nothing to do for this pod.</summary>
    Invalid,
}

/// <param name="SidecarConfig">The new annotation value (Patch only).</param>
/// <param name="Reason">Why (RecreateRequired, Invalid), for the Event and the condition.</param>
internal sealed record PodUpdate(PodUpdateKind Kind, string? SidecarConfig, string Reason);

/// <summary>
/// The sidecar config a running injected pod should have after its Dataset changed. It reuses admission's code
/// (<see cref="InjectionPlanner.TryBuildConfigs"/>, <see cref="SidecarConfigValidator"/>, <see cref="SourceVolumeGuard"/>)
/// with what the pod was admitted with: the mode from the status annotation, whether the dataset has a shared volume and
/// its prefetch paths from the current sidecar config. Only the changed dataset's entries are rebuilt; everything else
/// (cache, endpoints, other datasets) stays as admitted.
/// </summary>
internal static class SidecarConfigRecomputer
{
    public static PodUpdate Recompute(JsonObject pod, FluidDataset dataset, IReadOnlyDictionary<string, string> namespaceLabels, InjectorOptions options, ClusterState cluster)
    {
        var annotations = pod.Obj("metadata").StringMap("annotations");
        if (!annotations.TryGetValue(Annotations.Status, out var statusText) || !TryParseObject(statusText, out var status))
        {
            return new(PodUpdateKind.Invalid, null, $"annotation '{Annotations.Status}' is missing or not JSON");
        }

        if (!annotations.TryGetValue(Annotations.SidecarConfig, out var configText) || !TryParseConfig(configText, out var current))
        {
            return new(PodUpdateKind.Invalid, null, $"annotation '{Annotations.SidecarConfig}' is missing or not a sidecar config");
        }

        var mode = status.Str("mode") ?? current.Mode;
        var podDatasets = status.Arr("datasets")?.Select(d => d?.ToString() ?? "").ToList() ?? [];
        var owned = Enumerable.Range(0, current.Datasets.Count).Where(i => Owner(current.Datasets[i], podDatasets) == dataset.Name).ToList();
        var ownedConfigs = owned.Select(i => current.Datasets[i]).ToList();
        var sharedVolume = ownedConfigs.Any(c => c.MountPath is not null);
        IReadOnlyList<PrefetchEntry> prefetch = [.. (ownedConfigs.FirstOrDefault()?.Prefetch ?? []).Select(p => new PrefetchEntry(null, p))];
        if (!InjectionPlanner.TryBuildConfigs(dataset, sharedVolume, mode, prefetch, cluster, out var configs, out var secretEnv, out var buildError))
        {
            return new(PodUpdateKind.Invalid, null, buildError!);
        }

        var insertAt = owned.Count > 0 ? owned[0] : current.Datasets.Count;
        var datasets = current.Datasets.Where((_, i) => !owned.Contains(i)).ToList();
        datasets.InsertRange(Math.Min(insertAt, datasets.Count), configs);
        var updated = current with { Datasets = datasets };
        var errors = SidecarConfigValidator.Validate(updated);
        if (errors.Count > 0)
        {
            return new(PodUpdateKind.Invalid, null, $"the sidecar could not serve dataset '{dataset.Name}': {string.Join("; ", errors)}");
        }

        var updatedText = Serialize(updated);
        if (updatedText == Serialize(current))
        {
            return new(PodUpdateKind.UpToDate, null, "");
        }

        if (NotLive(pod, status.Str("sidecar") ?? "", dataset, ownedConfigs, configs, secretEnv, namespaceLabels, options) is { } reason)
        {
            return new(PodUpdateKind.RecreateRequired, null, reason);
        }

        return new(PodUpdateKind.Patch, updatedText, "");
    }

    /// <summary>Which of the pod's datasets a config entry belongs to: by its mount path under the dataset's shared
    /// directory, else (S3 only) by its bucket name, the dataset's name or "&lt;dataset&gt;-&lt;mount&gt;".</summary>
    public static string? Owner(DatasetConfig config, IReadOnlyList<string> podDatasets)
    {
        if (config.MountPath is { } path)
        {
            return podDatasets.FirstOrDefault(d => path == InjectionPlan.SharedVolumeRoot + "/" + d || path.StartsWith(InjectionPlan.SharedVolumeRoot + "/" + d + "/", StringComparison.Ordinal));
        }

        return podDatasets.FirstOrDefault(d => config.Name == d)
            ?? podDatasets.Where(d => config.Name.StartsWith(d.ToLowerInvariant() + "-", StringComparison.Ordinal)).OrderByDescending(d => d.Length).FirstOrDefault();
    }

    /// <summary>Why the new configs need a pod the sidecar was not started with, or null when they apply live.</summary>
    private static string? NotLive(
        JsonObject pod,
        string sidecarName,
        FluidDataset dataset,
        IReadOnlyList<DatasetConfig> before,
        IReadOnlyList<DatasetConfig> after,
        IReadOnlyList<(string EnvName, SecretOption Secret)> secretEnv,
        IReadOnlyDictionary<string, string> namespaceLabels,
        InjectorOptions options)
    {
        var spec = pod.Obj("spec");
        var sidecar = spec.Arr("initContainers").Objects().Concat(spec.Arr("containers").Objects()).FirstOrDefault(c => c.Str("name") == sidecarName);
        if (sidecar is null)
        {
            return $"the pod has no sidecar container '{sidecarName}'";
        }

        // secrets reach the sidecar only as env from secretKeyRef, fixed when the container starts
        var env = sidecar.Arr("env").Objects().ToDictionary(e => e.Str("name") ?? "", e => e, StringComparer.Ordinal);
        foreach (var (envName, secret) in secretEnv)
        {
            var reference = env.GetValueOrDefault(envName).Obj("valueFrom").Obj("secretKeyRef");
            if (reference.Str("name") != secret.SecretName || reference.Str("key") != secret.SecretKey)
            {
                return $"recreate the pod to pick up Secret '{secret.SecretName}' key '{secret.SecretKey}' (option '{secret.OptionName}' of dataset '{dataset.Name}'): a running container's environment cannot change";
            }
        }

        // nfs:// and local:// sources need a volume in the sidecar: a running pod's volumes cannot change
        var volumes = spec.Arr("volumes").Objects().ToDictionary(v => v.Str("name") ?? "", v => v, StringComparer.Ordinal);
        var mounts = sidecar.Arr("volumeMounts").Objects().ToList();
        foreach (var config in after)
        {
            var required = SourceVolumeMutator.LocalVolume(config) is { } local
                ? (Source: local, MountPath: config.Source["local://".Length..])
                : SourceVolumeMutator.TryParse(config.Source, out var server, out var exportPath)
                    ? (Source: NfsVolume(server, exportPath, config.ReadOnly), MountPath: SourceVolumeMutator.MountPath(config))
                    : default;
            if (required.Source is null)
            {
                continue;
            }

            var mount = mounts.FirstOrDefault(m => m.Str("mountPath") == required.MountPath);
            var volume = mount is null ? null : volumes.GetValueOrDefault(mount.Str("name") ?? "");
            if (volume is null || !JsonNode.DeepEquals(WithoutName(volume), required.Source))
            {
                return $"recreate the pod to pick up the volume for source '{config.Source}' of dataset '{dataset.Name}' (the pod was not admitted with it): a running pod's volumes cannot change";
            }
        }

        if (after.Any(c => !c.ReadOnly) && before.Count > 0 && before.All(c => c.ReadOnly))
        {
            return $"recreate the pod to pick up write access to dataset '{dataset.Name}': its volume is mounted read-only in the running containers";
        }

        var planned = new PlannedDataset(dataset, null, false, [], after, secretEnv);
        var podSecurity = PodSecurityAdmission.Enforced(namespaceLabels);
        foreach (var config in after)
        {
            if (SourceVolumeGuard.Check(planned, config, options, podSecurity) is { } refused)
            {
                return refused;
            }
        }

        return null;
    }

    private static JsonObject NfsVolume(string server, string exportPath, bool readOnly)
    {
        var nfs = new JsonObject { ["server"] = server, ["path"] = exportPath };
        if (readOnly)
        {
            nfs["readOnly"] = true;
        }

        return new JsonObject { ["nfs"] = nfs };
    }

    private static JsonObject WithoutName(JsonObject volume)
    {
        var copy = (JsonObject)volume.DeepClone();
        copy.Remove("name");
        return copy;
    }

    public static string Serialize(SidecarConfig config) => JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig);

    private static bool TryParseConfig(string text, out SidecarConfig config)
    {
        try
        {
            config = JsonSerializer.Deserialize(text, ContractsJsonContext.Default.SidecarConfig)!;
            return config is not null;
        }
        catch (JsonException)
        {
            config = null!;
            return false;
        }
    }

    private static bool TryParseObject(string text, out JsonObject obj)
    {
        try
        {
            var parsed = JsonNode.Parse(text) as JsonObject;
            obj = parsed ?? [];
            return parsed is not null;
        }
        catch (JsonException)
        {
            obj = [];
            return false;
        }
    }
}
