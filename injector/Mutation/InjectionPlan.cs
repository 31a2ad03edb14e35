using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>A dataset the pod will get, and where it lives in the pod.</summary>
/// <param name="Dataset">The Fluid Dataset.</param>
/// <param name="VolumeName">The shared volume holding its view (fuse/copy), or null when served on S3 only.</param>
/// <param name="ReplacesClaim">True when the volume was the Dataset's PVC (it becomes an emptyDir).</param>
/// <param name="ExtraAppMountPaths">Paths from serverless.fluid.io/datasets where app containers mount the volume.</param>
/// <param name="Configs">The sidecar's view: one entry per Dataset mount (bucket name, source, secrets).</param>
/// <param name="SecretEnv">Sidecar env var name → secret reference.</param>
internal sealed record PlannedDataset(
    FluidDataset Dataset,
    string? VolumeName,
    bool ReplacesClaim,
    IReadOnlyList<string> ExtraAppMountPaths,
    IReadOnlyList<DatasetConfig> Configs,
    IReadOnlyList<(string EnvName, SecretOption Secret)> SecretEnv);

/// <summary>Everything decided before the pod is touched; mutators only carry it out, so a denial never leaves a
/// half-mutated pod.</summary>
internal sealed record InjectionPlan
{
    public required string Namespace { get; init; }
    public required InjectorOptions Options { get; init; }
    public required InjectionSettings Settings { get; init; }
    public required PlatformProfile Platform { get; init; }
    /// <summary>fuse, copy or s3 (never auto).</summary>
    public required string Mode { get; init; }
    /// <summary>Why this mode (for explain): requested, or what auto saw (platform, Pod Security level).</summary>
    public string ModeReason { get; init; } = "";
    public required bool NativeSidecar { get; init; }
    public required IReadOnlyList<PlannedDataset> Datasets { get; init; }
    /// <summary>Containers that get the data (env, mounts); Knative: only the user container.</summary>
    public required IReadOnlySet<string> AppContainers { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>The sidecar's shared block tier (env var names only), or null.</summary>
    public SharedCacheConfig? SharedCache { get; init; }
    /// <summary>Sidecar env var name → Secret key for the tier's credentials.</summary>
    public IReadOnlyList<(string EnvName, SecretOption Secret)> SharedCacheSecretEnv { get; init; } = [];

    /// <summary>The sidecar's config, built and validated once by <see cref="PodInjector"/>.</summary>
    public SidecarConfig? SidecarConfig { get; init; }

    /// <summary>The sidecar's image: the pod's allowed override, else the injector's.</summary>
    public string SidecarImage => Settings.SidecarImage ?? Options.SidecarImage;

    public const string SharedVolumeRoot = "/run/fluid-serverless/datasets";

    public static string SidecarMountPath(PlannedDataset dataset) => SharedVolumeRoot + "/" + dataset.Dataset.Name;
}
