using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>
/// The per-pod sidecar overrides (image, log level, extra env), from a pod annotation or an InjectionPolicy, checked
/// before anything is planned. The image is honoured only from the injector's allow-list: the sidecar holds the
/// pod's dataset Secrets and, in FUSE mode, runs privileged, so an arbitrary image would be a privilege grant.
/// </summary>
internal static partial class SidecarOverrides
{
    /// <summary>The env var that sets the sidecar's minimum log level (its host reads configuration from the environment).</summary>
    public const string LogLevelEnv = "Logging__LogLevel__Default";

    public const int MaxEnvEntries = 32;

    /// <summary>Annotation value → .NET LogLevel name.</summary>
    public static readonly IReadOnlyDictionary<string, string> LogLevels = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["trace"] = "Trace",
        ["debug"] = "Debug",
        ["information"] = "Information",
        ["warning"] = "Warning",
        ["error"] = "Error",
        ["critical"] = "Critical",
    };

    // portable across shells and exec forms; Kubernetes would accept more, but then a name may not be usable
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex EnvName();

    /// <summary>An allow-list entry: a repository (no tag or digest), or a prefix ending in '/', with at least one '/'.</summary>
    public static bool IsAllowListEntry(string entry) =>
        entry.Length > 0 && entry.Contains('/', StringComparison.Ordinal) && !entry.Any(char.IsWhiteSpace)
        && !entry.Contains('@', StringComparison.Ordinal) && !entry[(entry.LastIndexOf('/') + 1)..].Contains(':', StringComparison.Ordinal);

    /// <summary>Whether <paramref name="image"/> is the repository of an entry (any tag or digest) or lies under a prefix entry.</summary>
    public static bool IsImageAllowed(string image, IReadOnlyList<string> allowList) =>
        allowList.Any(entry => entry.EndsWith('/')
            ? image.StartsWith(entry, StringComparison.Ordinal) && image.Length > entry.Length
            : image == entry || image.StartsWith(entry + ":", StringComparison.Ordinal) || image.StartsWith(entry + "@", StringComparison.Ordinal));

    /// <summary>The override image, or null (none asked, or denied: the error is added).</summary>
    public static string? ResolveImage((string Value, InjectionPolicy? Policy)? setting, InjectorOptions options, List<string> errors)
    {
        if (setting is not { } value)
        {
            return null;
        }

        var (image, policy) = value;
        var setBy = policy is null ? "" : $" (set by InjectionPolicy '{policy.Namespace}/{policy.Name}')";
        if (options.AllowedSidecarImages.Count == 0)
        {
            errors.Add($"annotation '{Annotations.SidecarImage}' is not allowed: the injector configuration permits no sidecar image override "
                + $"(Injector:AllowedSidecarImages is empty){setBy}");
            return null;
        }

        if (image.Length == 0 || image.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || !IsImageAllowed(image, options.AllowedSidecarImages))
        {
            errors.Add(InjectionSettingsResolver.Invalid(image, Annotations.SidecarImage,
                "an image from the injector's allow-list (Injector:AllowedSidecarImages): " + string.Join(", ", options.AllowedSidecarImages.Select(a => $"'{a}'")),
                policy));
            return null;
        }

        return image;
    }

    /// <summary>The .NET log level name, or null (none asked, or invalid: the error is added).</summary>
    public static string? ResolveLogLevel((string Value, InjectionPolicy? Policy)? setting, List<string> errors)
    {
        if (setting is not { } value)
        {
            return null;
        }

        if (LogLevels.TryGetValue(value.Value, out var level))
        {
            return level;
        }

        errors.Add(InjectionSettingsResolver.Invalid(value.Value, Annotations.SidecarLogLevel, "one of " + string.Join(", ", LogLevels.Keys.Select(k => $"'{k}'")), value.Policy));
        return null;
    }

    /// <summary>Extra sidecar env from a JSON object of strings, in the order written; empty on error (the error is added).</summary>
    public static IReadOnlyList<(string Name, string Value)> ParseEnv((string Value, InjectionPolicy? Policy)? setting, List<string> errors)
    {
        if (setting is not { } value)
        {
            return [];
        }

        var (text, policy) = value;
        const string Expected = "a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}";
        JsonObject? parsed;
        try
        {
            parsed = JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            parsed = null;
        }

        if (parsed is null)
        {
            errors.Add(InjectionSettingsResolver.Invalid(text, Annotations.SidecarEnv, Expected, policy));
            return [];
        }

        if (parsed.Count > MaxEnvEntries)
        {
            errors.Add(InjectionSettingsResolver.Invalid(text, Annotations.SidecarEnv, $"at most {MaxEnvEntries} variables (got {parsed.Count})", policy));
            return [];
        }

        var env = new List<(string, string)>();
        foreach (var (name, node) in parsed)
        {
            if (node is not JsonValue scalar || !scalar.TryGetValue<string>(out var variableValue))
            {
                errors.Add(InjectionSettingsResolver.Invalid(text, Annotations.SidecarEnv, $"{Expected}; the value of '{name}' is not a string", policy));
                return [];
            }

            if (!EnvName().IsMatch(name))
            {
                errors.Add(InjectionSettingsResolver.Invalid(text, Annotations.SidecarEnv,
                    $"{Expected}; '{name}' is not a variable name (letters, digits and '_', not starting with a digit)", policy));
                return [];
            }

            if (IsReserved(name))
            {
                errors.Add(InjectionSettingsResolver.Invalid(text, Annotations.SidecarEnv,
                    $"{Expected}; '{name}' is set by the injector itself (names starting with FLUID_ or Logging__ are reserved; "
                    + $"use {Annotations.SidecarLogLevel} for the log level)", policy));
                return [];
            }

            env.Add((name, variableValue));
        }

        return env;
    }

    /// <summary>The injector's own sidecar variables (FLUID_*: config file, secrets, shared cache credentials) and the
    /// logging configuration (the log level knob). .NET configuration keys ignore case, so neither may differ by case.</summary>
    public static bool IsReserved(string name) =>
        name.StartsWith("FLUID_", StringComparison.OrdinalIgnoreCase) || name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase);
}
