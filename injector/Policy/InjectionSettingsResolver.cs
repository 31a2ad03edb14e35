using System.Text.RegularExpressions;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>
/// Applies precedence to the per-pod knobs (pod annotation &gt; InjectionPolicy &gt; global options) and validates each
/// value. The first invalid value wins and is reported as "invalid value 'X' for annotation 'Y': expected …",
/// naming the policy when the value came from one.
/// </summary>
internal static partial class InjectionSettingsResolver
{
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex DatasetName();

    public static InjectionSettings Resolve(
        IReadOnlyDictionary<string, string> podAnnotations,
        InjectionPolicy? policy,
        InjectorOptions options,
        out string? error)
    {
        var errors = new List<string>();
        var source = new KnobSource(podAnnotations, policy, errors);

        var mode = source.Choice(Annotations.Mode, options.DefaultMode, DatasetModes.All);
        var cacheSize = source.Get(Annotations.CacheSize) ?? (options.DefaultCacheSize, null);
        long cacheBytes = 0;
        if (!Quantity.TryParseBytes(cacheSize.Value, out cacheBytes) || cacheBytes <= 0)
        {
            errors.Add(Invalid(cacheSize.Value, Annotations.CacheSize, "a positive quantity such as 512Mi or 10Gi", cacheSize.Policy));
        }

        var medium = source.Choice(Annotations.CacheMedium, options.DefaultCacheMedium, ["disk", "memory"]);
        var resources = source.Get(Annotations.SidecarResources) ?? (options.DefaultSidecarResources, null);
        var (requests, limits) = ParseResources(resources.Value, resources.Policy, errors);
        var prefetch = ParsePrefetch(source.Get(Annotations.Prefetch), errors);
        var wait = source.Choice(Annotations.WaitForPrefetch, "false", ["true", "false"]) == "true";
        var native = source.Get(Annotations.NativeSidecar) is { } nativeText
            ? source.Validate(nativeText, Annotations.NativeSidecar, ["true", "false"]) switch { "true" => true, "false" => (bool?)false, _ => null }
            : null;
        var platform = source.Choice(Annotations.Platform, Platforms.Auto, Platforms.All);
        var s3Auth = source.Choice(Annotations.S3Auth, S3AuthPostures.Default, S3AuthPostures.All);
        var datasets = ParseDatasets(source.Get(Annotations.Datasets), errors);
        var sharedCache = source.Get(Annotations.SharedCache) ?? (options.DefaultSharedCache, null);
        var tier = ResolveTier(sharedCache.Value, sharedCache.Policy, policy, options, errors);
        var sidecarImage = SidecarOverrides.ResolveImage(source.Get(Annotations.SidecarImage), options, errors);
        var logLevel = SidecarOverrides.ResolveLogLevel(source.Get(Annotations.SidecarLogLevel), errors);
        var sidecarEnv = SidecarOverrides.ParseEnv(source.Get(Annotations.SidecarEnv), errors);

        error = errors.Count > 0 ? errors[0] : null;
        return new InjectionSettings
        {
            Mode = mode,
            CacheSize = cacheSize.Value,
            CacheSizeBytes = cacheBytes,
            CacheMedium = medium,
            ResourceRequests = requests,
            ResourceLimits = limits,
            Prefetch = prefetch,
            WaitForPrefetch = wait,
            NativeSidecar = native,
            Platform = platform,
            S3Auth = s3Auth,
            Datasets = datasets,
            SharedCacheName = tier is null ? SharedCacheTier.None : sharedCache.Value,
            SharedCache = tier,
            SidecarImage = sidecarImage,
            SidecarLogLevel = logLevel,
            SidecarEnv = sidecarEnv,
        };
    }

    /// <summary>A tier name → its definition: the selecting policy's own tiers first, then the injector's.</summary>
    private static SharedCacheTier? ResolveTier(string name, InjectionPolicy? setBy, InjectionPolicy? policy, InjectorOptions options, List<string> errors)
    {
        if (name == SharedCacheTier.None)
        {
            return null;
        }

        var tier = policy?.SharedCacheTiers.GetValueOrDefault(name) ?? options.SharedCacheTiers.GetValueOrDefault(name);
        if (tier is null)
        {
            var known = (policy?.SharedCacheTiers.Keys ?? []).Concat(options.SharedCacheTiers.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var expected = known.Count == 0
                ? $"'{SharedCacheTier.None}' (no shared cache tier is defined in the injector configuration or the pod's InjectionPolicy)"
                : $"'{SharedCacheTier.None}' or a tier defined in the injector configuration or the pod's InjectionPolicy: " + string.Join(", ", known.Select(k => $"'{k}'"));
            errors.Add(Invalid(name, Annotations.SharedCache, expected, setBy));
            return null;
        }

        foreach (var (role, reference) in tier.SecretReferences())
        {
            if (reference.Name.Length == 0 || reference.Key.Length == 0)
            {
                var definedBy = policy?.SharedCacheTiers.ContainsKey(name) == true ? $"InjectionPolicy '{policy.Namespace}/{policy.Name}'" : "the injector configuration";
                errors.Add($"shared cache tier '{name}' (defined by {definedBy}): {role}SecretRef needs both name and key of a Secret in the pod's namespace");
                return null;
            }
        }

        return tier;
    }

    public static string Invalid(string value, string annotation, string expected, InjectionPolicy? policy = null) =>
        policy is null
            ? $"invalid value '{value}' for annotation '{annotation}': expected {expected}"
            : $"invalid value '{value}' for annotation '{annotation}': expected {expected} (set by InjectionPolicy '{policy.Namespace}/{policy.Name}')";

    private static (Dictionary<string, string> Requests, Dictionary<string, string> Limits) ParseResources(string text, InjectionPolicy? policy, List<string> errors)
    {
        const string Expected = "comma-separated cpu=QUANTITY, memory=QUANTITY, limits.cpu=QUANTITY or limits.memory=QUANTITY (requests.* also accepted)";
        var requests = new Dictionary<string, string>(StringComparer.Ordinal);
        var limits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var separator = item.IndexOf('=', StringComparison.Ordinal);
            var key = separator > 0 ? item[..separator] : "";
            var value = separator > 0 ? item[(separator + 1)..] : "";
            var (target, resource) = key switch
            {
                "cpu" or "requests.cpu" => (requests, "cpu"),
                "memory" or "requests.memory" => (requests, "memory"),
                "limits.cpu" => (limits, "cpu"),
                "limits.memory" => (limits, "memory"),
                _ => (null, ""),
            };
            if (target is null || !Quantity.IsValid(value))
            {
                errors.Add(Invalid(text, Annotations.SidecarResources, Expected, policy));
                break;
            }

            target[resource] = value;
        }

        return (requests, limits);
    }

    private static List<PrefetchEntry> ParsePrefetch((string Value, InjectionPolicy? Policy)? setting, List<string> errors)
    {
        var entries = new List<PrefetchEntry>();
        if (setting is not { } value)
        {
            return entries;
        }

        var (text, policy) = value;

        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var separator = item.IndexOf(':', StringComparison.Ordinal);
            if (separator == 0 || separator == item.Length - 1 || item.Contains("..", StringComparison.Ordinal))
            {
                errors.Add(Invalid(text, Annotations.Prefetch, "comma-separated paths or globs, optionally prefixed by 'dataset:', without '..'", policy));
                break;
            }

            entries.Add(separator > 0 ? new PrefetchEntry(item[..separator], item[(separator + 1)..].TrimStart('/')) : new PrefetchEntry(null, item.TrimStart('/')));
        }

        return entries;
    }

    private static List<DatasetRequest> ParseDatasets((string Value, InjectionPolicy? Policy)? setting, List<string> errors)
    {
        var requests = new List<DatasetRequest>();
        if (setting is not { } value)
        {
            return requests;
        }

        var (text, policy) = value;

        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var separator = item.IndexOf(':', StringComparison.Ordinal);
            var name = separator >= 0 ? item[..separator] : item;
            var path = separator >= 0 ? item[(separator + 1)..] : null;
            if (!DatasetName().IsMatch(name) || (path is not null && (!path.StartsWith('/') || path.Length < 2 || path.Contains("..", StringComparison.Ordinal))))
            {
                errors.Add(Invalid(text, Annotations.Datasets, "comma-separated dataset names (lowercase DNS names), each optionally followed by ':/absolute/mount/path'", policy));
                break;
            }

            if (!requests.Any(r => r.Name == name && r.MountPath == path))
            {
                requests.Add(new DatasetRequest(name, path?.TrimEnd('/')));
            }
        }

        return requests;
    }

    /// <summary>Looks a knob up with precedence and records where it came from.</summary>
    private sealed class KnobSource(IReadOnlyDictionary<string, string> annotations, InjectionPolicy? policy, List<string> errors)
    {
        public (string Value, InjectionPolicy? Policy)? Get(string key)
        {
            if (annotations.TryGetValue(key, out var value))
            {
                return (value, null);
            }

            if (policy is not null && policy.Defaults.TryGetValue(key, out var fromPolicy))
            {
                return (fromPolicy, policy);
            }

            return null;
        }

        public string Choice(string key, string fallback, IReadOnlyList<string> allowed)
        {
            if (Get(key) is not { } setting)
            {
                return fallback;
            }

            return Validate(setting, key, allowed);
        }

        public string Validate((string Value, InjectionPolicy? Policy) setting, string key, IReadOnlyList<string> allowed)
        {
            if (allowed.Contains(setting.Value))
            {
                return setting.Value;
            }

            errors.Add(Invalid(setting.Value, key, OneOf(allowed), setting.Policy));
            return allowed[0];
        }

        private static string OneOf(IReadOnlyList<string> allowed) =>
            allowed.Count == 2 ? $"'{allowed[0]}' or '{allowed[1]}'" : "one of " + string.Join(", ", allowed.Select(a => $"'{a}'"));
    }
}
