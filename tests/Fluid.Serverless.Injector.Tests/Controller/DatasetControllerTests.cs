using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
using Fluid.Serverless.Injector.Tests.Testing;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Injector.Tests.Controller;

/// <summary>
/// The controller against <see cref="FakeApiServer"/>, a small FAKE API server (no real Kubernetes API server runs here;
/// its comment lists what it leaves out): pods are injected with the webhook's own <see cref="PodInjector"/>, stored in
/// the fake, watched by the injector, and a Dataset edit must reach them as a merge patch of their annotations.
/// </summary>
public sealed class DatasetControllerTests
{
    private const string Namespace = "ml";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task DatasetEdit_PodsUsingIt_GetTheSidecarConfigANewPodWouldGet()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        StorePod(api, InjectedPod("train-2", "models"));
        StorePod(api, InjectedPod("other-1", "other"));
        var otherBefore = api.Get("pods", Namespace, "other-1")!;
        await using var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a"));
        await WaitUntilAsync(() => server.Services.GetRequiredService<ControllerMetrics>().Leading);

        api.Upsert("datasets", Dataset("models", """[{"mountPoint":"s3://models-v2/llama","options":{"endpoint":"http://minio:9000"}}]"""));

        var expected = InjectedPod("train-1", "models", """[{"mountPoint":"s3://models-v2/llama","options":{"endpoint":"http://minio:9000"}}]""")
            .Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig);
        foreach (var name in new[] { "train-1", "train-2" })
        {
            await WaitUntilAsync(() => SidecarConfigOf(api, name) == expected);
            var condition = Condition(api, name, "models");
            Assert.Equal("True", condition.Str("status"));
            Assert.Equal(PodConditions.ReasonApplied, condition.Str("reason"));
        }

        Assert.Equal(2, api.Patches.Count(p => p.Resource == "pods"));
        Assert.DoesNotContain(api.Patches, p => p.Name == "other-1");
        Assert.Equal(otherBefore.ToJsonString(), api.Get("pods", Namespace, "other-1")!.ToJsonString());
        Assert.Empty(api.All("events"));
        Assert.DoesNotContain(api.Requests, r => r.Contains("/status", StringComparison.Ordinal)); // Dataset status is off by default
    }

    [Fact]
    public async Task DatasetStatusOn_StandaloneInstall_CountsTheRunningPodsUsingEachDataset()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        StorePod(api, InjectedPod("train-2", "models"));
        StorePod(api, InjectedPod("other-1", "other"));
        await using var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a") with { DatasetStatus = true });

        await WaitUntilAsync(() => PodsInStatus(api, "models") == 2 && PodsInStatus(api, "other") == 1);
        Assert.Equal("s3://models", api.Get("datasets", Namespace, "models")!.Obj("spec").Arr("mounts").Objects().Single().Str("mountPoint")); // status only

        api.Delete("pods", Namespace, "train-2");

        await WaitUntilAsync(() => PodsInStatus(api, "models") == 1);
        Assert.Equal(1, PodsInStatus(api, "other"));
    }

    private static int? PodsInStatus(FakeApiServer api, string dataset) =>
        api.Get("datasets", Namespace, dataset)?.Obj("status").Obj("serverless")?["pods"]?.GetValue<int>();

    [Theory]
    [InlineData("""[{"mountPoint":"s3://models","encryptOptions":[{"name":"secret.key","valueFrom":{"secretKeyRef":{"name":"new-s3-credentials","key":"secret"}}}]}]""",
        "recreate the pod to pick up Secret 'new-s3-credentials' key 'secret'")]
    [InlineData("""[{"mountPoint":"nfs://nas.example/exports/models"}]""", "recreate the pod to pick up the volume for source 'nfs://nas.example/exports/models'")]
    public async Task DatasetEdit_NeedsWhatThePodWasNotAdmittedWith_NoPatchButEventsAndCondition(string mounts, string reason)
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        var configBefore = SidecarConfigOf(api, "train-1");
        await using var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a"));
        await WaitUntilAsync(() => server.Services.GetRequiredService<ControllerMetrics>().Leading);

        api.Upsert("datasets", Dataset("models", mounts));

        await WaitUntilAsync(() => api.All("events").Count == 2);
        var events = api.All("events");
        var onPod = Assert.Single(events, e => e.Obj("involvedObject").Str("kind") == "Pod");
        var onDataset = Assert.Single(events, e => e.Obj("involvedObject").Str("kind") == "Dataset");
        Assert.Equal("train-1", onPod.Obj("involvedObject").Str("name"));
        Assert.Equal("models", onDataset.Obj("involvedObject").Str("name"));
        Assert.Contains(reason, onPod.Str("message"), StringComparison.Ordinal);
        Assert.Contains(reason, onDataset.Str("message"), StringComparison.Ordinal);
        Assert.Equal("RecreateRequired", onPod.Str("reason"));
        Assert.Equal("Warning", onPod.Str("type"));

        var condition = Condition(api, "train-1", "models");
        Assert.Equal("False", condition.Str("status"));
        Assert.Equal(PodConditions.ReasonRecreateRequired, condition.Str("reason"));
        Assert.Contains(reason, condition.Str("message"), StringComparison.Ordinal);
        Assert.Equal(configBefore, SidecarConfigOf(api, "train-1")); // the sidecar keeps serving what it can
        var patch = Assert.Single(api.Patches, p => p.Resource == "pods");
        Assert.DoesNotContain(Annotations.SidecarConfig, patch.Patch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatasetEdit_ManyPods_PatchesSpreadByThePacer()
    {
        const int Pods = 5;
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, Dataset("models", """[{"mountPoint":"s3://models-v2"}]"""));
        for (var i = 0; i < Pods; i++)
        {
            var pod = StorePod(api, InjectedPod($"train-{i}", "models"));
            pod["kind"] = "Pod";
            ClusterStateLoader.Apply(cluster, pod);
        }

        var time = new FakeTimeProvider();
        var pacer = new PatchPacer(time, perSecond: 1, burst: 1);
        using var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.Url.ToString() });
        var reconciler = new DatasetReconciler(client, cluster, new InjectorOptions(), pacer, new EventRecorder(client, time), new ControllerMetrics(),
            time, NullLogger<DatasetReconciler>.Instance, TimeSpan.FromMinutes(10));

        var pass = reconciler.ReconcileAsync(Namespace, "models", CancellationToken.None);

        // one token at start, then one per second of (fake) time: after k waits exactly k patches reached the server
        for (var waits = 1; waits < Pods; waits++)
        {
            await WaitUntilAsync(() => pacer.Waits == waits);
            Assert.Equal(waits, api.Patches.Count);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.False(await pass);
        Assert.Equal(Pods, api.Patches.Count);
        Assert.Equal(Pods - 1, pacer.Waits);
        Assert.All(Enumerable.Range(0, Pods), i => Assert.Contains("s3://models-v2", SidecarConfigOf(api, $"train-{i}"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoReplicas_OnlyTheLeaseHolderPatches()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        StorePod(api, InjectedPod("train-2", "models"));
        await using var first = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a"));
        await using var second = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-b"));
        var metrics = new[] { first, second }.Select(s => s.Services.GetRequiredService<ControllerMetrics>()).ToArray();
        await WaitUntilAsync(() => metrics.Any(m => m.Leading));
        var leader = metrics[0].Leading ? 0 : 1;
        var holder = api.Get("leases", "fluid-serverless", "fluid-serverless-injector-controller")!.Obj("spec").Str("holderIdentity");
        Assert.Equal(leader == 0 ? "replica-a" : "replica-b", holder);

        api.Upsert("datasets", Dataset("models", """[{"mountPoint":"s3://models-v2"}]"""));

        await WaitUntilAsync(() => SidecarConfigOf(api, "train-1").Contains("models-v2", StringComparison.Ordinal)
            && SidecarConfigOf(api, "train-2").Contains("models-v2", StringComparison.Ordinal));
        Assert.Equal(2, metrics[leader].Patches);
        Assert.Equal(0, metrics[1 - leader].Patches);
        Assert.False(metrics[1 - leader].Leading);
        Assert.Equal(2, api.Patches.Count(p => p.Resource == "pods"));
    }

    [Fact]
    public async Task ControllerOffByFlag_NoPodWatchNoLeaseNoPatch()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        var configBefore = SidecarConfigOf(api, "train-1");
        await using var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a") with { Enabled = false });
        await WaitUntilAsync(() => server.Cluster.FindDataset(Namespace, "models") is not null);

        api.Upsert("datasets", Dataset("models", """[{"mountPoint":"s3://models-v2"}]"""));
        await WaitUntilAsync(() => server.Cluster.FindDataset(Namespace, "models")!.Mounts[0].MountPoint == "s3://models-v2");

        Assert.Null(server.Services.GetService<ControllerMetrics>());
        Assert.Null(server.Services.GetService<LeaderElectedControllers>());
        Assert.DoesNotContain(api.Requests, r => r.Contains("/pods", StringComparison.Ordinal) || r.Contains("/leases", StringComparison.Ordinal));
        Assert.Empty(api.Patches);
        Assert.Equal(configBefore, SidecarConfigOf(api, "train-1"));
    }

    /// <summary>Every request of a replica running the controller (watches, Lease, pod patches, Events) must be
    /// granted by manifests/base/rbac.yaml, so the manifest cannot be narrower than the code needs.</summary>
    [Fact]
    public async Task Controller_EveryRequest_IsGrantedByTheBaseRbac()
    {
        var rules = ManifestRules();
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api);
        StorePod(api, InjectedPod("train-1", "models"));
        await using (var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController("replica-a")))
        {
            await WaitUntilAsync(() => server.Services.GetRequiredService<ControllerMetrics>().Leading);
            api.Upsert("datasets", Dataset("models", """[{"mountPoint":"s3://models-v2"}]"""));
            await WaitUntilAsync(() => SidecarConfigOf(api, "train-1").Contains("models-v2", StringComparison.Ordinal));
            api.Upsert("datasets", Dataset("models", """[{"mountPoint":"nfs://nas.example/exports/models"}]"""));
            await WaitUntilAsync(() => api.All("events").Count == 2);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in api.Requests.ToList().Where(r => !r.StartsWith("GET /version", StringComparison.Ordinal)))
        {
            var (verb, resource, @namespace, name) = Classify(request);
            seen.Add($"{verb} {resource}");
            Assert.True(
                rules.Any(r => r.Verbs.Contains(verb) && r.Resources.Contains(resource)
                    && (r.Names.Count == 0 || (name is not null && r.Names.Contains(name)))
                    && (r.Namespace is null || r.Namespace == @namespace)),
                $"'{request}' ({verb} {resource} {@namespace}/{name}) is not granted by manifests/base/rbac.yaml");
        }

        Assert.Contains("watch pods", seen);
        Assert.Contains("patch pods", seen);
        Assert.Contains("create events", seen);
        Assert.Contains("create leases", seen);
        Assert.Contains("update leases", seen);
    }

    [Fact]
    public async Task FakeApiServer_MergePatchWithStaleResourceVersion_Conflict()
    {
        await using var api = await FakeApiServer.StartAsync();
        var stored = StorePod(api, InjectedPod("train-1", "models"));
        using var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.Url.ToString() });
        var stale = new JsonObject { ["metadata"] = new JsonObject { ["resourceVersion"] = "1", ["annotations"] = new JsonObject { ["a"] = "b" } } };
        var fresh = new JsonObject { ["metadata"] = new JsonObject { ["resourceVersion"] = stored.Obj("metadata").Str("resourceVersion"), ["annotations"] = new JsonObject { ["a"] = "b" } } };

        var conflict = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() =>
            client.CoreV1.PatchNamespacedPodAsync(new k8s.Models.V1Patch(stale.ToJsonString(), k8s.Models.V1Patch.PatchType.MergePatch), "train-1", Namespace));
        var patched = await client.CoreV1.PatchNamespacedPodAsync(new k8s.Models.V1Patch(fresh.ToJsonString(), k8s.Models.V1Patch.PatchType.StrategicMergePatch), "train-1", Namespace);

        Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Equal("b", patched.Metadata.Annotations["a"]);
        Assert.Equal(stored.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig), patched.Metadata.Annotations[Annotations.SidecarConfig]);
    }

    internal static (string Verb, string Resource, string? Namespace, string? Name) Classify(string request)
    {
        var space = request.IndexOf(' ', StringComparison.Ordinal);
        var method = request[..space];
        var watch = request.Contains("watch=true", StringComparison.Ordinal) || request.Contains("watch=1", StringComparison.Ordinal);
        var segments = request[(space + 1)..].Split('?')[0].Trim('/').Split('/');
        var rest = segments[0] == "api" ? segments[2..] : segments[3..];
        string? @namespace = null;
        if (rest.Length >= 3 && rest[0] == "namespaces")
        {
            @namespace = rest[1];
            rest = rest[2..];
        }

        var name = rest.Length > 1 ? rest[1] : null;
        var verb = method switch
        {
            "GET" => name is null ? (watch ? "watch" : "list") : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => method,
        };
        return (verb, rest.Length > 2 ? rest[0] + "/" + rest[2] : rest[0], @namespace, name);
    }

    /// <summary>Rules of manifests/base/rbac.yaml; a Role's rules hold only in its namespace.</summary>
    internal static List<(HashSet<string> Verbs, HashSet<string> Resources, HashSet<string> Names, string? Namespace)> ManifestRules([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var file = Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "..", "manifests", "base", "rbac.yaml");
        var rules = new List<(HashSet<string>, HashSet<string>, HashSet<string>, string?)>();
        foreach (var document in YamlJson.ParseDocuments(File.ReadAllText(file)).OfType<JsonObject>())
        {
            var kind = document.Str("kind");
            if (kind is not ("Role" or "ClusterRole"))
            {
                continue;
            }

            foreach (var rule in document.Arr("rules").Objects())
            {
                static HashSet<string> Set(JsonNode? node) => [.. (node?.AsArray() ?? []).Select(n => n!.GetValue<string>())];
                rules.Add((Set(rule["verbs"]), Set(rule["resources"]), Set(rule["resourceNames"]), kind == "Role" ? document.Obj("metadata").Str("namespace") : null));
            }
        }

        return rules;
    }

    private static ControllerOptions FastController(string identity) => new()
    {
        Identity = identity,
        LeaseNamespace = "fluid-serverless",
        LeaseDurationSeconds = 3,
        RenewDeadlineSeconds = 2,
        RetryPeriodSeconds = 1,
        PatchesPerSecond = 100,
        PatchBurst = 10,
    };

    private static void SeedCluster(FakeApiServer api)
    {
        api.Upsert("namespaces", Parse($$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        api.Upsert("datasets", Dataset("models", """[{"mountPoint":"s3://models"}]"""));
        api.Upsert("datasets", Dataset("other", """[{"mountPoint":"s3://other"}]"""));
    }

    private static JsonObject Dataset(string name, string mounts) => Parse(
        $$$"""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}"},"spec":{"mounts":{{{mounts}}}}}""");

    /// <summary>A pod as the webhook admits it (same <see cref="PodInjector"/>), using the dataset through its PVC.</summary>
    private static JsonObject InjectedPod(string name, string dataset, string? mounts = null)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, Parse($$$"""{"kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        ClusterStateLoader.Apply(cluster, Dataset(dataset, mounts ?? $$$"""[{"mountPoint":"s3://{{{dataset}}}"}]"""));
        var pod = Parse($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}","uid":"uid-{{{name}}}","labels":{"serverless.fluid.io/inject":"true"}},
             "spec":{"containers":[{"name":"app","image":"python","volumeMounts":[{"name":"data","mountPath":"/data"}]}],
                     "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"{{{dataset}}}"}}]}}
            """);
        var outcome = new PodInjector(cluster, new InjectorOptions()).Inject(pod, Namespace);
        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        return outcome.Pod!;
    }

    private static JsonObject StorePod(FakeApiServer api, JsonObject pod)
    {
        api.Upsert("pods", pod);
        return api.Get("pods", Namespace, pod.Obj("metadata").Str("name")!)!;
    }

    private static string SidecarConfigOf(FakeApiServer api, string pod) =>
        api.Get("pods", Namespace, pod)!.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig)!;

    private static JsonObject Condition(FakeApiServer api, string pod, string dataset)
    {
        var status = Parse(api.Get("pods", Namespace, pod)!.Obj("metadata").Obj("annotations").Str(Annotations.Status)!);
        return Assert.Single(status.Arr("conditions").Objects(), c => c.Str("type") == PodConditions.Type && c.Str("dataset") == dataset);
    }

    private static ServerSettings Watching(FakeApiServer api) => new() { WatchCluster = true, ApiServerUrl = api.Url.ToString().TrimEnd('/') };

    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // bounded wait for an asynchronous event (a watch delivery, an election), not a timing assertion
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within " + Patience);
            await Task.Delay(50);
        }
    }
}
