using System.Text.Json.Serialization;

namespace Fluid.Serverless.Sidecar.Volume.Copy;

/// <summary>The `.fluid-ready` marker copy mode writes last: apps and probes can wait for it.</summary>
internal sealed record ReadyMarker(string Dataset, long Files, long Bytes, DateTimeOffset CompletedAt);

/// <summary>Source-generated JSON for the volume types (Native-AOT clean); /status can serialize the entries with it.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReadyMarker))]
[JsonSerializable(typeof(VolumeStatusEntry))]
[JsonSerializable(typeof(IReadOnlyList<VolumeStatusEntry>))]
internal sealed partial class VolumeJsonContext : JsonSerializerContext;
