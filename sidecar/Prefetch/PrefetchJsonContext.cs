using System.Text.Json.Serialization;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>POST /prefetch body: the dataset (bucket name) and the paths, globs or "@manifest" entries to warm.</summary>
internal sealed record PrefetchRequest
{
    public string? Dataset { get; init; }
    public IReadOnlyList<string>? Paths { get; init; }
}

/// <summary>POST /prefetch answer: the job id and where to poll it.</summary>
internal sealed record PrefetchStarted(string Id, string Location);

/// <summary>An admin API error: what was wrong with the request.</summary>
internal sealed record PrefetchError(string Error);

/// <summary>POST /prefetch refused with 429: the limit reached (its name in PrefetchOptions), its value and the current count.</summary>
internal sealed record PrefetchLimitError(string Error, string Limit, long Value, long Current);

/// <summary>GET /prefetch answer.</summary>
internal sealed record PrefetchJobList(IReadOnlyList<PrefetchProgress> Jobs, bool WaitForReady, bool Ready, string ReadinessReason);

/// <summary>Source-generated JSON (Native-AOT clean), camelCase, enums as their names.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    AllowTrailingCommas = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip)]
[JsonSerializable(typeof(PrefetchRequest))]
[JsonSerializable(typeof(PrefetchStarted))]
[JsonSerializable(typeof(PrefetchError))]
[JsonSerializable(typeof(PrefetchLimitError))]
[JsonSerializable(typeof(PrefetchProgress))]
[JsonSerializable(typeof(PrefetchJobList))]
[JsonSerializable(typeof(PrefetchStatusSnapshot))]
internal sealed partial class PrefetchJsonContext : JsonSerializerContext;
