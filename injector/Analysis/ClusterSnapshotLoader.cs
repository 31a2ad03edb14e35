using System.Net;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Kubernetes;
using Fluid.Serverless.Injector.Policy;
using k8s;
using k8s.Autorest;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>Where the injector is installed and how <c>analyze</c> reads the cluster.</summary>
/// <param name="PodNamespace">Only this namespace's pods; null: every namespace.</param>
/// <param name="InjectorConfigFile">The injector's configuration from a file instead of its ConfigMap.</param>
internal sealed record AnalyzeScope(
    string InjectorNamespace,
    string WebhookConfigurationName,
    string TlsSecretName,
    string ConfigMapName,
    string? PodNamespace,
    string? InjectorConfigFile);

/// <summary>
/// Lists what the analyzers read, once, through KubernetesClient: the webhook's cached kinds, pods, their
/// ReplicaSets and Jobs, the webhook configuration, its Services' endpoints, the serving certificate's Secret, the
/// Secrets that used Datasets name, and the injector's ConfigMap. Read-only: every call is a get or a list.
/// </summary>
internal static class ClusterSnapshotLoader
{
    public static async Task<(ClusterSnapshot Snapshot, string? Note)> LoadAsync(IKubernetes client, AnalyzeScope scope, CancellationToken cancel)
    {
        var state = new ClusterState();
        await LiveClusterState.LoadAsync(client, state, cancel);
        var (options, note) = await OptionsAsync(client, scope, cancel);

        var pods = scope.PodNamespace is { } podNamespace
            ? (await client.CoreV1.ListNamespacedPodAsync(podNamespace, cancellationToken: cancel)).Items.Select(ToJson)
            : (await client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancel)).Items.Select(ToJson);
        var replicaSets = scope.PodNamespace is { } rsNamespace
            ? (await client.AppsV1.ListNamespacedReplicaSetAsync(rsNamespace, cancellationToken: cancel)).Items.Select(ToJson)
            : (await client.AppsV1.ListReplicaSetForAllNamespacesAsync(cancellationToken: cancel)).Items.Select(ToJson);
        var jobs = scope.PodNamespace is { } jobNamespace
            ? (await client.BatchV1.ListNamespacedJobAsync(jobNamespace, cancellationToken: cancel)).Items.Select(ToJson)
            : (await client.BatchV1.ListJobForAllNamespacesAsync(cancellationToken: cancel)).Items.Select(ToJson);

        var webhook = await OrNullAsync(async () => ToJson(await client.AdmissionregistrationV1.ReadMutatingWebhookConfigurationAsync(scope.WebhookConfigurationName, cancellationToken: cancel)));
        // the caller may not read Secrets in the injector's namespace: the check is then skipped with a warning
        var tlsSecret = await OrNullAsync(async () => ToJson(await client.CoreV1.ReadNamespacedSecretAsync(scope.TlsSecretName, scope.InjectorNamespace, cancellationToken: cancel)), HttpStatusCode.Forbidden);

        var endpoints = new Dictionary<(string, string), ServiceEndpoints>();
        foreach (var service in (webhook?.Arr("webhooks").Objects() ?? []).Select(w => w.Obj("clientConfig").Obj("service")).OfType<JsonObject>())
        {
            var key = (service.Str("namespace") ?? "default", service.Str("name") ?? "");
            if (!endpoints.ContainsKey(key))
            {
                endpoints[key] = await EndpointsAsync(client, key.Item1, key.Item2, cancel);
            }
        }

        var podList = pods.ToList();

        // only the Secrets that Datasets in use name: analyze never lists Secrets
        var secrets = new Dictionary<(string, string), JsonObject?>();
        var named = podList
            .SelectMany(p => ClusterSnapshot.ReferencedDatasets(p, state).Select(d => state.FindDataset(ClusterSnapshot.NamespaceOf(p), d)))
            .OfType<FluidDataset>()
            .SelectMany(d => d.Mounts.SelectMany(m => m.Secrets).Select(s => (d.Namespace, s.SecretName)))
            .Distinct();
        foreach (var (@namespace, name) in named)
        {
            try
            {
                secrets[(@namespace, name)] = ToJson(await client.CoreV1.ReadNamespacedSecretAsync(name, @namespace, cancellationToken: cancel));
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
            {
                secrets[(@namespace, name)] = null;
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Forbidden)
            {
                // not readable with the caller's rights: left out, so it is not reported as missing
            }
        }

        return (new ClusterSnapshot
        {
            State = state,
            Options = options,
            Pods = podList,
            ReplicaSets = replicaSets.ToDictionary(r => (ClusterSnapshot.NamespaceOf(r), ClusterSnapshot.NameOf(r))),
            Jobs = jobs.ToDictionary(j => (ClusterSnapshot.NamespaceOf(j), ClusterSnapshot.NameOf(j))),
            WebhookConfigurationName = scope.WebhookConfigurationName,
            WebhookConfiguration = webhook,
            InjectorNamespace = scope.InjectorNamespace,
            TlsSecretName = scope.TlsSecretName,
            TlsSecret = tlsSecret,
            ServiceEndpoints = endpoints,
            Secrets = secrets,
        }, note);
    }

    /// <summary>The injector's configuration: the file given, else its ConfigMap in the cluster, else the built-in defaults.</summary>
    private static async Task<(InjectorOptions Options, string? Note)> OptionsAsync(IKubernetes client, AnalyzeScope scope, CancellationToken cancel)
    {
        if (scope.InjectorConfigFile is { } file)
        {
            return (InjectorConfigFile.Load(file), null);
        }

        var configMap = await OrNullAsync(async () => ToJson(await client.CoreV1.ReadNamespacedConfigMapAsync(scope.ConfigMapName, scope.InjectorNamespace, cancellationToken: cancel)));
        if (configMap is null)
        {
            return (new InjectorOptions(), $"ConfigMap {scope.InjectorNamespace}/{scope.ConfigMapName} not found: comparing with the injector's built-in defaults (--injector-config FILE to give them)");
        }

        configMap["kind"] = "ConfigMap";
        return (InjectorConfigFile.FromDocument(configMap, $"ConfigMap {scope.InjectorNamespace}/{scope.ConfigMapName}"), null);
    }

    /// <summary>Ready and not-ready endpoints from the Service's EndpointSlices, or from its Endpoints where the
    /// cluster serves no EndpointSlices.</summary>
    private static async Task<ServiceEndpoints> EndpointsAsync(IKubernetes client, string @namespace, string name, CancellationToken cancel)
    {
        try
        {
            var slices = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(@namespace, labelSelector: $"kubernetes.io/service-name={name}", cancellationToken: cancel);
            if (slices.Items.Count > 0)
            {
                var all = slices.Items.SelectMany(s => s.Endpoints ?? []).ToList();
                // conditions.ready unset means ready (the API's rule for consumers)
                var ready = all.Count(e => e.Conditions?.Ready != false);
                return new ServiceEndpoints(ready, all.Count - ready, "EndpointSlices");
            }
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // no discovery.k8s.io: read Endpoints
        }

        var endpoints = await OrNullAsync(async () => await client.CoreV1.ReadNamespacedEndpointsAsync(name, @namespace, cancellationToken: cancel));
        if (endpoints is null)
        {
            return new ServiceEndpoints(0, 0, "no EndpointSlices or Endpoints");
        }

        var subsets = endpoints.Subsets ?? [];
        return new ServiceEndpoints(subsets.Sum(s => s.Addresses?.Count ?? 0), subsets.Sum(s => s.NotReadyAddresses?.Count ?? 0), "Endpoints");
    }

    /// <summary>The object, or null when it does not exist (or answers <paramref name="alsoNull"/>).</summary>
    private static async Task<T?> OrNullAsync<T>(Func<Task<T>> read, HttpStatusCode alsoNull = HttpStatusCode.NotFound)
        where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound || exception.Response.StatusCode == alsoNull)
        {
            return null;
        }
    }

    private static JsonObject ToJson<T>(T item) => (JsonObject)JsonNode.Parse(KubernetesJson.Serialize(item))!;
}
