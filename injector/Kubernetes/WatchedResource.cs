using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using k8s;
using k8s.Models;

namespace Fluid.Serverless.Injector.Kubernetes;

/// <summary>One kind the injector caches: how to list it (items + resourceVersion) and watch it from there, with
/// KubernetesClient. Objects are handed on as JSON so that one code path (<see cref="ClusterStateLoader"/>) turns them
/// into cache entries, whatever the source (watch, offline file, test fixture).</summary>
internal sealed record WatchedResource(
    string Kind,
    Func<IKubernetes, CancellationToken, Task<(IReadOnlyList<JsonNode> Items, string? ResourceVersion)>> ListAsync,
    Func<IKubernetes, string?, CancellationToken, IAsyncEnumerable<(WatchEventType Type, JsonNode? Object)>> WatchAsync)
{
    public static IReadOnlyList<WatchedResource> All { get; } =
    [
        new("Namespace",
            async (client, cancel) =>
            {
                using var response = await client.CoreV1.ListNamespaceWithHttpMessagesAsync(cancellationToken: cancel);
                return ([.. response.Body.Items.Select(ToJson)], response.Body.Metadata?.ResourceVersion);
            },
            (client, version, cancel) => Typed(
                client.CoreV1.WatchListNamespaceAsync(resourceVersion: version, allowWatchBookmarks: true, cancellationToken: cancel), cancel)),
        new("PersistentVolumeClaim",
            async (client, cancel) =>
            {
                using var response = await client.CoreV1.ListPersistentVolumeClaimForAllNamespacesWithHttpMessagesAsync(cancellationToken: cancel);
                return ([.. response.Body.Items.Select(ToJson)], response.Body.Metadata?.ResourceVersion);
            },
            (client, version, cancel) => Typed(
                client.CoreV1.WatchListPersistentVolumeClaimForAllNamespacesAsync(resourceVersion: version, allowWatchBookmarks: true, cancellationToken: cancel), cancel)),
        Custom("Dataset", FluidDataset.ApiGroup, FluidDataset.ApiVersion, FluidDataset.Plural),
        Custom("InjectionPolicy", InjectionPolicy.ApiGroup, InjectionPolicy.ApiVersion, InjectionPolicy.Plural),

        // the S3 gateway of a Dataset's runtime; Fluid without Alluxio has no such CRD: 404 counts as empty (ClusterWatcher)
        Custom(FluidRuntime.AlluxioKind, FluidRuntime.ApiGroup, FluidRuntime.ApiVersion, FluidRuntime.AlluxioPlural),
    ];

    /// <summary>Injected pods only (label selector on the done label), for the controller: a cluster's other pods are
    /// never listed, so the cache stays as small as the set of pods the controller may patch.</summary>
    public static WatchedResource InjectedPods { get; } = new(
        "Pod",
        async (client, cancel) =>
        {
            using var response = await client.CoreV1.ListPodForAllNamespacesWithHttpMessagesAsync(labelSelector: InjectedSelector, cancellationToken: cancel);
            return ([.. response.Body.Items.Select(ToJson)], response.Body.Metadata?.ResourceVersion);
        },
        (client, version, cancel) => Typed(
            client.CoreV1.WatchListPodForAllNamespacesAsync(labelSelector: InjectedSelector, resourceVersion: version, allowWatchBookmarks: true, cancellationToken: cancel), cancel));

    /// <summary>DataLoads, for the controller (Fluid's CRD, or ours in the standalone install; absent = empty).</summary>
    public static WatchedResource DataLoads { get; } = Custom(FluidDataLoad.Kind, FluidDataLoad.ApiGroup, FluidDataLoad.ApiVersion, FluidDataLoad.Plural);

    /// <summary>Only the Jobs the controller started for DataLoads (label selector on their DataLoad label), for their
    /// completion: a cluster's other Jobs are never listed.</summary>
    public static WatchedResource DataLoadJobs { get; } = new(
        "Job",
        async (client, cancel) =>
        {
            using var response = await client.BatchV1.ListJobForAllNamespacesWithHttpMessagesAsync(labelSelector: FluidDataLoad.JobLabel, cancellationToken: cancel);
            return ([.. response.Body.Items.Select(ToJson)], response.Body.Metadata?.ResourceVersion);
        },
        (client, version, cancel) => Typed(
            client.BatchV1.WatchListJobForAllNamespacesAsync(labelSelector: FluidDataLoad.JobLabel, resourceVersion: version, allowWatchBookmarks: true, cancellationToken: cancel), cancel));

    private const string InjectedSelector = Fluid.Serverless.Contracts.Annotations.InjectedLabel + "=true";

    private static WatchedResource Custom(string kind, string group, string version, string plural) => new(
        kind,
        async (client, cancel) =>
        {
            using var response = await client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync<JsonElement>(
                group, version, plural, cancellationToken: cancel);
            var list = JsonNode.Parse(response.Body.GetRawText());
            var items = (list?["items"] as JsonArray ?? []).Where(i => i is not null).Select(i => i!.DeepClone()).ToList();
            return (items, list?["metadata"]?["resourceVersion"]?.GetValue<string>());
        },
        (client, resourceVersion, cancel) => Custom(
            client.CustomObjects.WatchListClusterCustomObjectAsync(
                group, version, plural, resourceVersion: resourceVersion, allowWatchBookmarks: true, cancellationToken: cancel), cancel));

    private static JsonNode ToJson<T>(T item) => JsonNode.Parse(KubernetesJson.Serialize(item))!;

    private static async IAsyncEnumerable<(WatchEventType, JsonNode?)> Typed<T>(IAsyncEnumerable<(WatchEventType, T)> events, [EnumeratorCancellation] CancellationToken cancel)
    {
        await foreach (var (type, item) in events.WithCancellation(cancel))
        {
            yield return (type, item is null ? null : ToJson(item));
        }
    }

    private static async IAsyncEnumerable<(WatchEventType, JsonNode?)> Custom(IAsyncEnumerable<(WatchEventType, object)> events, [EnumeratorCancellation] CancellationToken cancel)
    {
        await foreach (var (type, item) in events.WithCancellation(cancel))
        {
            yield return (type, item switch
            {
                JsonElement { ValueKind: JsonValueKind.Object } element => JsonNode.Parse(element.GetRawText()),
                null => null,
                _ => ToJson(item),
            });
        }
    }
}
