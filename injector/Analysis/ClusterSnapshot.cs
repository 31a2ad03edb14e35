using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>Ready and not-ready addresses behind a Service, and where they were read (EndpointSlices or Endpoints).</summary>
internal sealed record ServiceEndpoints(int Ready, int NotReady, string Source);

/// <summary>Everything the analyzers read, listed once from the cluster (<see cref="ClusterSnapshotLoader"/>) or built
/// by a test. Objects are JSON as the API server returns them.</summary>
internal sealed class ClusterSnapshot
{
    /// <summary>Datasets, PVCs, Namespaces, InjectionPolicies and runtimes, as the webhook's caches hold them.</summary>
    public required ClusterState State { get; init; }
    /// <summary>The injector's configuration (its ConfigMap, or a file, or the built-in defaults).</summary>
    public required InjectorOptions Options { get; init; }
    public required IReadOnlyList<JsonObject> Pods { get; init; }
    public IReadOnlyDictionary<(string Namespace, string Name), JsonObject> ReplicaSets { get; init; } = new Dictionary<(string, string), JsonObject>();
    public IReadOnlyDictionary<(string Namespace, string Name), JsonObject> Jobs { get; init; } = new Dictionary<(string, string), JsonObject>();

    public required string WebhookConfigurationName { get; init; }
    /// <summary>The MutatingWebhookConfiguration; null when not installed.</summary>
    public JsonObject? WebhookConfiguration { get; init; }

    public required string InjectorNamespace { get; init; }
    public required string TlsSecretName { get; init; }
    /// <summary>The Secret holding the serving certificate (tls.crt); null when absent or unreadable.</summary>
    public JsonObject? TlsSecret { get; init; }

    /// <summary>Secrets that used Datasets name: null = does not exist. A Secret the loader could not read is absent.</summary>
    public IReadOnlyDictionary<(string Namespace, string Name), JsonObject?> Secrets { get; init; } = new Dictionary<(string, string), JsonObject?>();

    /// <summary>Endpoints of the Services the webhooks call.</summary>
    public IReadOnlyDictionary<(string Namespace, string Name), ServiceEndpoints> ServiceEndpoints { get; init; } = new Dictionary<(string, string), ServiceEndpoints>();

    public DateTimeOffset Now { get; init; } = DateTimeOffset.UtcNow;

    public static string NamespaceOf(JsonObject obj) => obj.Obj("metadata").Str("namespace") ?? "default";

    public static string NameOf(JsonObject obj) => obj.Obj("metadata").Str("name") ?? "";

    /// <summary>The injector's status annotation of an injected pod, or null.</summary>
    public static JsonObject? InjectionStatus(JsonObject pod)
    {
        var text = pod.Obj("metadata").Obj("annotations").Str(Annotations.Status);
        try
        {
            return text is null ? null : JsonNode.Parse(text) as JsonObject ?? [];
        }
        catch (System.Text.Json.JsonException)
        {
            return [];
        }
    }

    /// <summary>Pods still running or about to: a finished pod's sidecar no longer matters.</summary>
    public IEnumerable<JsonObject> LivePods() =>
        Pods.Where(p => p.Obj("status").Str("phase") is not ("Succeeded" or "Failed") && p.Obj("metadata").Str("deletionTimestamp") is null);

    /// <summary>Datasets a pod uses or asks for: its status annotation's, its Dataset PVCs, and its datasets annotation.</summary>
    public IEnumerable<string> ReferencedDatasets(JsonObject pod) => ReferencedDatasets(pod, State);

    public static IEnumerable<string> ReferencedDatasets(JsonObject pod, ClusterState state)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (InjectionStatus(pod) is { } status)
        {
            names.UnionWith((status.Arr("datasets") ?? []).Select(d => d?.ToString() ?? "").Where(d => d.Length > 0));
        }

        var @namespace = NamespaceOf(pod);
        foreach (var volume in pod.Obj("spec").Arr("volumes").Objects())
        {
            if (volume.Obj("persistentVolumeClaim").Str("claimName") is { } claim && state.FindDataset(@namespace, claim) is not null)
            {
                names.Add(claim);
            }
        }

        if (pod.Obj("metadata").StringMap("annotations").TryGetValue(Annotations.Datasets, out var requested))
        {
            names.UnionWith(requested.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r => r.Split(':')[0]));
        }

        return names;
    }
}
