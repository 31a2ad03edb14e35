using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// A named shared block tier (Fluid's Runtime) that pods choose with serverless.fluid.io/shared-cache: defined in the
/// injector configuration (Injector:SharedCacheTiers:&lt;name&gt;) or inline in an InjectionPolicy (spec.sharedCacheTiers).
/// Holds what the sidecar's sharedCache section needs, except secrets: those are Secret references that become
/// secretKeyRef env vars of the sidecar container. Properties are settable for the configuration binder.
/// </summary>
internal sealed record SharedCacheTier
{
    /// <summary>The annotation value that turns the tier off.</summary>
    public const string None = "none";

    /// <summary>redis or s3 (validated with the rest of the sidecar config).</summary>
    public string Engine { get; set; } = "redis";

    /// <summary>redis: seed nodes as host:port.</summary>
    public IReadOnlyList<string> Endpoints { get; set; } = [];

    /// <summary>s3: endpoint URL; null = AWS S3.</summary>
    public string? Endpoint { get; set; }
    public string? Bucket { get; set; }
    public string? Region { get; set; }
    public string? Prefix { get; set; }
    public bool Tls { get; set; }

    public SecretKeyReference? UserSecretRef { get; set; }
    public SecretKeyReference? PasswordSecretRef { get; set; }
    public SecretKeyReference? AccessKeyIdSecretRef { get; set; }
    public SecretKeyReference? SecretAccessKeySecretRef { get; set; }

    /// <summary>null = the sidecar's default.</summary>
    public int? TimeoutMilliseconds { get; set; }
    public int? LeaseMilliseconds { get; set; }
    public int? MaxPendingWrites { get; set; }

    /// <summary>The secret references that are set, keyed by what they hold (user, password, accessKeyId, secretAccessKey).</summary>
    public IEnumerable<(string Role, SecretKeyReference Reference)> SecretReferences()
    {
        if (UserSecretRef is { } user)
        {
            yield return ("user", user);
        }

        if (PasswordSecretRef is { } password)
        {
            yield return ("password", password);
        }

        if (AccessKeyIdSecretRef is { } accessKeyId)
        {
            yield return ("accessKeyId", accessKeyId);
        }

        if (SecretAccessKeySecretRef is { } secretAccessKey)
        {
            yield return ("secretAccessKey", secretAccessKey);
        }
    }

    /// <summary>One entry of an InjectionPolicy's spec.sharedCacheTiers (the name is the entry's "name").</summary>
    public static SharedCacheTier FromJson(JsonObject node) => new()
    {
        Engine = node.Str("engine") ?? "redis",
        Endpoints = [.. (node.Arr("endpoints") ?? []).Select(e => e?.ToString() ?? "")],
        Endpoint = node.Str("endpoint"),
        Bucket = node.Str("bucket"),
        Region = node.Str("region"),
        Prefix = node.Str("prefix"),
        Tls = node.Bool("tls") ?? false,
        UserSecretRef = SecretKeyReference.FromJson(node.Obj("userSecretRef")),
        PasswordSecretRef = SecretKeyReference.FromJson(node.Obj("passwordSecretRef")),
        AccessKeyIdSecretRef = SecretKeyReference.FromJson(node.Obj("accessKeyIdSecretRef")),
        SecretAccessKeySecretRef = SecretKeyReference.FromJson(node.Obj("secretAccessKeySecretRef")),
        TimeoutMilliseconds = Int(node, "timeoutMilliseconds"),
        LeaseMilliseconds = Int(node, "leaseMilliseconds"),
        MaxPendingWrites = Int(node, "maxPendingWrites"),
    };

    private static int? Int(JsonObject node, string key) =>
        node[key] is JsonValue value && int.TryParse(value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : null;
}

/// <summary>A key of a Secret in the pod's namespace (Secrets are namespaced: a tier defined in the injector
/// configuration needs its Secret in every namespace whose pods use it).</summary>
internal sealed record SecretKeyReference
{
    public string Name { get; set; } = "";
    public string Key { get; set; } = "";

    public static SecretKeyReference? FromJson(JsonObject? node) =>
        node is null ? null : new SecretKeyReference { Name = node.Str("name") ?? "", Key = node.Str("key") ?? "" };
}
