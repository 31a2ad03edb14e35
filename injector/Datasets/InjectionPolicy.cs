using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// A namespaced <c>InjectionPolicy</c> (<c>serverless.fluid.io/v1alpha1</c>): selects pods by label and supplies
/// defaults that pod annotations override. Values are kept as text and validated like the annotations they stand for.
/// </summary>
internal sealed record InjectionPolicy
{
    public const string ApiGroup = "serverless.fluid.io";
    public const string ApiVersion = "v1alpha1";
    public const string Plural = "injectionpolicies";

    public required string Namespace { get; init; }
    public required string Name { get; init; }
    public LabelSelector Selector { get; init; } = LabelSelector.Everything;

    /// <summary>false lets a policy exclude the pods it selects.</summary>
    public bool Inject { get; init; } = true;

    /// <summary>Knob values keyed by the annotation they default (serverless.fluid.io/mode …).</summary>
    public IReadOnlyDictionary<string, string> Defaults { get; init; } = new Dictionary<string, string>();

    /// <summary>Shared block tiers defined inline (spec.sharedCacheTiers), by name: the pods this policy selects may
    /// name them in serverless.fluid.io/shared-cache; they shadow injector-wide tiers of the same name.</summary>
    public IReadOnlyDictionary<string, SharedCacheTier> SharedCacheTiers { get; init; } = new Dictionary<string, SharedCacheTier>();

    public static InjectionPolicy FromJson(JsonNode node)
    {
        var metadata = node.Obj("metadata");
        var spec = node.Obj("spec");
        var defaults = new Dictionary<string, string>(StringComparer.Ordinal);
        AddText(defaults, Contracts.Annotations.Mode, spec.Str("mode"));
        AddText(defaults, Contracts.Annotations.CacheSize, spec.Str("cacheSize"));
        AddText(defaults, Contracts.Annotations.CacheMedium, spec.Str("cacheMedium"));
        AddText(defaults, Contracts.Annotations.SidecarResources, spec.Str("sidecarResources"));
        AddText(defaults, Contracts.Annotations.Platform, spec.Str("platform"));
        AddText(defaults, Contracts.Annotations.SharedCache, spec.Str("sharedCache"));
        AddText(defaults, Contracts.Annotations.S3Auth, spec.Str("s3Auth"));
        AddText(defaults, Contracts.Annotations.SidecarImage, spec.Str("sidecarImage"));
        AddText(defaults, Contracts.Annotations.SidecarLogLevel, spec.Str("sidecarLogLevel"));
        if (spec.Obj("sidecarEnv") is { } sidecarEnv)
        {
            // kept as the annotation's JSON text, validated like the annotation when a pod uses it
            defaults[Contracts.Annotations.SidecarEnv] = sidecarEnv.ToJsonString();
        }

        AddList(defaults, Contracts.Annotations.Datasets, spec.Arr("datasets"));
        AddList(defaults, Contracts.Annotations.Prefetch, spec.Arr("prefetch"));
        if (spec.Bool("waitForPrefetch") is { } wait)
        {
            defaults[Contracts.Annotations.WaitForPrefetch] = wait ? "true" : "false";
        }

        if (spec.Bool("nativeSidecar") is { } native)
        {
            defaults[Contracts.Annotations.NativeSidecar] = native ? "true" : "false";
        }

        return new InjectionPolicy
        {
            Namespace = metadata.Str("namespace") ?? "default",
            Name = metadata.Str("name") ?? "",
            Selector = LabelSelector.FromJson(spec.Obj("podSelector")),
            Inject = spec.Bool("inject") ?? true,
            Defaults = defaults,
            SharedCacheTiers = spec.Arr("sharedCacheTiers").Objects()
                .Where(t => t.Str("name") is { Length: > 0 })
                .GroupBy(t => t.Str("name")!, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => SharedCacheTier.FromJson(g.First()), StringComparer.Ordinal),
        };
    }

    private static void AddText(Dictionary<string, string> defaults, string key, string? value)
    {
        if (value is not null)
        {
            defaults[key] = value;
        }
    }

    private static void AddList(Dictionary<string, string> defaults, string key, JsonArray? values)
    {
        if (values is { Count: > 0 })
        {
            defaults[key] = string.Join(',', values.Select(v => v?.ToString() ?? ""));
        }
    }
}
