using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// The parts of a Fluid <c>DataLoad</c> (<c>data.fluid.io/v1alpha1</c>) the controller runs: which Dataset, which paths
/// (<c>spec.target[]</c>), Once or Cron (<c>spec.policy</c>, <c>spec.schedule</c>), the operation it waits for
/// (<c>spec.runAfter</c>) and its status (<c>status.phase</c>, <c>lastScheduleTime</c>, <c>infos</c>).
/// </summary>
internal sealed record FluidDataLoad
{
    public const string ApiGroup = "data.fluid.io";
    public const string ApiVersion = "v1alpha1";
    public const string Plural = "dataloads";
    public const string Kind = "DataLoad";

    /// <summary>The label on the Jobs the controller starts: its value is the DataLoad's name.</summary>
    public const string JobLabel = "serverless.fluid.io/dataload";

    public const string PolicyOnce = "Once";
    public const string PolicyCron = "Cron";

    public required string Namespace { get; init; }
    public required string Name { get; init; }
    public string? Uid { get; init; }
    public DateTimeOffset? Created { get; init; }
    public required string Dataset { get; init; }
    public string DatasetNamespace { get; init; } = "";

    /// <summary>Paths in the dataset as the sidecar's prefetch entries read them: a leading '/' dropped, "/" for the whole dataset.</summary>
    public IReadOnlyList<string> Targets { get; init; } = [];

    /// <summary>Fluid's replica count per path: our tier holds one copy of each block, so it is read and not used.</summary>
    public bool LoadMetadata { get; init; }
    public string Policy { get; init; } = PolicyOnce;
    public string? Schedule { get; init; }
    public OperationReference? RunAfter { get; init; }
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
    public int? TtlSecondsAfterFinished { get; init; }

    public string Phase { get; init; } = "";
    public DateTimeOffset? LastScheduleTime { get; init; }
    public IReadOnlyDictionary<string, string> Infos { get; init; } = new Dictionary<string, string>();

    public static FluidDataLoad FromJson(JsonObject node)
    {
        var metadata = node.Obj("metadata");
        var spec = node.Obj("spec");
        var status = node.Obj("status");
        var @namespace = metadata.Str("namespace") ?? "default";
        var runAfter = spec.Obj("runAfter");
        return new FluidDataLoad
        {
            Namespace = @namespace,
            Name = metadata.Str("name") ?? "",
            Uid = metadata.Str("uid"),
            Created = Time(metadata.Str("creationTimestamp")),
            Dataset = spec.Obj("dataset").Str("name") ?? "",
            DatasetNamespace = spec.Obj("dataset").Str("namespace") is { Length: > 0 } datasetNamespace ? datasetNamespace : @namespace,
            Targets = [.. spec.Arr("target").Objects().Select(t => (t.Str("path") ?? "/").TrimStart('/') is { Length: > 0 } path ? path : "/")],
            LoadMetadata = spec.Bool("loadMetadata") ?? false,
            Policy = spec.Str("policy") is { Length: > 0 } policy ? policy : PolicyOnce,
            Schedule = spec.Str("schedule"),
            RunAfter = runAfter is null ? null : new OperationReference(
                runAfter.Str("kind") ?? "",
                runAfter.Str("name") ?? "",
                runAfter.Str("namespace") is { Length: > 0 } runAfterNamespace ? runAfterNamespace : @namespace),
            Options = spec.StringMap("options"),
            Annotations = metadata.StringMap("annotations"),
            TtlSecondsAfterFinished = spec?["ttlSecondsAfterFinished"] is JsonValue ttl && int.TryParse(ttl.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? seconds : null,
            Phase = status.Str("phase") ?? "",
            LastScheduleTime = Time(status.Str("lastScheduleTime")),
            Infos = status.StringMap("infos"),
        };
    }

    public static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null;
}

/// <summary>spec.runAfter: the data operation (DataLoad, DataBackup, DataMigrate, DataProcess) this one waits for.</summary>
internal sealed record OperationReference(string Kind, string Name, string Namespace);
