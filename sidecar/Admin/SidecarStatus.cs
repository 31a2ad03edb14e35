using System.Text.Json.Serialization;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Volume;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>The /status document: what is served and how the cache is doing.</summary>
internal sealed record SidecarStatus(
    string ConfigOrigin,
    long Generation,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    IReadOnlyList<DatasetStatus> Datasets,
    CacheStatus? Cache)
{
    /// <summary>Prefetch jobs and the readiness gate.</summary>
    public PrefetchStatusSnapshot? Prefetch { get; init; }

    /// <summary>fuse, copy or s3, and one entry per shared volume.</summary>
    public string? VolumeMode { get; init; }

    public IReadOnlyList<VolumeStatusEntry>? Volumes { get; init; }

    /// <summary>Live reload: generation, reloads, the last rejected config's reason.</summary>
    public ConfigReloadStatus? ConfigReload { get; init; }

    /// <summary>The shared block tier behind the local cache (engine, connected, breaker, counters); absent when none is configured.</summary>
    public SharedTierStatus? SharedTier { get; init; }

    /// <summary>GC, thread pool and memory trims: what a benchmark round records next to its figure.</summary>
    public RuntimeStatus? Runtime { get; init; }
}

internal sealed record DatasetStatus(string Name, string Source, string SourceIdentity, bool ReadOnly, bool Immutable, string? MountPath);

internal sealed record CacheStatus(
    string Directory,
    long Blocks,
    long UsedBytes,
    long QuotaBytes,
    long Hits,
    long Misses,
    double HitRatio,
    long Evictions,
    long CorruptBlocksDropped,
    bool IndexLoaded);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(SidecarStatus))]
internal sealed partial class SidecarStatusJsonContext : JsonSerializerContext;
