using System.Text.Json.Serialization;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>The /status document: what is served and how the cache is doing.</summary>
internal sealed record SidecarStatus(
    string ConfigOrigin,
    long Generation,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    IReadOnlyList<DatasetStatus> Datasets,
    CacheStatus? Cache);

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

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SidecarStatus))]
internal sealed partial class SidecarStatusJsonContext : JsonSerializerContext;
