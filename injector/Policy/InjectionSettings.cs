using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>The knobs of one injection after precedence (pod annotation &gt; InjectionPolicy &gt; global) and validation.</summary>
internal sealed record InjectionSettings
{
    /// <summary>auto, fuse, copy or s3, as requested (auto is resolved against the platform later).</summary>
    public required string Mode { get; init; }
    public required string CacheSize { get; init; }
    public required long CacheSizeBytes { get; init; }
    /// <summary>memory or disk.</summary>
    public required string CacheMedium { get; init; }
    public required IReadOnlyDictionary<string, string> ResourceRequests { get; init; }
    public required IReadOnlyDictionary<string, string> ResourceLimits { get; init; }
    public required IReadOnlyList<PrefetchEntry> Prefetch { get; init; }
    public required bool WaitForPrefetch { get; init; }
    /// <summary>null = decided by the cluster version.</summary>
    public required bool? NativeSidecar { get; init; }
    /// <summary>The S3 endpoint's posture: default or strict (<see cref="Contracts.S3AuthPostures"/>).</summary>
    public string S3Auth { get; init; } = Contracts.S3AuthPostures.Default;
    /// <summary>auto, default, knative or eci.</summary>
    public required string Platform { get; init; }
    public required IReadOnlyList<DatasetRequest> Datasets { get; init; }
    /// <summary>The shared block tier's name, or "none".</summary>
    public string SharedCacheName { get; init; } = SharedCacheTier.None;
    /// <summary>The chosen tier; null = none.</summary>
    public SharedCacheTier? SharedCache { get; init; }
    /// <summary>The allowed per-pod sidecar image; null = the injector's Injector:SidecarImage.</summary>
    public string? SidecarImage { get; init; }
    /// <summary>The sidecar's minimum log level as .NET names it (Debug …); null = the image's default.</summary>
    public string? SidecarLogLevel { get; init; }
    /// <summary>Extra env of the sidecar container, validated (no reserved names).</summary>
    public IReadOnlyList<(string Name, string Value)> SidecarEnv { get; init; } = [];
}

/// <summary>A dataset named in serverless.fluid.io/datasets: served on S3, and on the shared volume at MountPath when given.</summary>
internal sealed record DatasetRequest(string Name, string? MountPath);

/// <summary>A prefetch path; Dataset null applies it to every dataset of the pod.</summary>
internal sealed record PrefetchEntry(string? Dataset, string Path);

internal static class Platforms
{
    public const string Auto = "auto";
    public const string Default = "default";
    public const string Knative = "knative";
    public const string Eci = "eci";
    public static readonly IReadOnlyList<string> All = [Auto, Default, Knative, Eci];
}
