using System.Net;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Settings;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Datasets;

/// <summary>
/// The watch caches against <see cref="FakeApiServer"/>, a small FAKE API server (no real Kubernetes API server runs
/// here): list+watch through KubernetesClient, readiness gated on sync, admission answered from the cache alone.
/// </summary>
public sealed class ClusterWatcherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Readyz_ListsHeld_NotReadyUntilEveryCacheSynced()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.HoldLists = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await InjectorServer.StartAsync(settings: Watching(api));

        using (var before = await server.Client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
            Assert.Contains("cache Dataset", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        api.HoldLists.SetResult();
        await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);
    }

    [Fact]
    public async Task Admission_DatasetAddedThenDeleted_CacheFollowsWatchWithoutApiCalls()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.Upsert("namespaces", Object("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ml","labels":{"serverless.fluid.io/injection":"enabled"}}}"""));
        await using var server = await InjectorServer.StartAsync(settings: Watching(api));
        await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);
        var pod = Object("""{"metadata":{"name":"train","namespace":"ml","annotations":{"serverless.fluid.io/datasets":"imagenet"}},"spec":{"containers":[{"name":"app","image":"python"}]}}""");

        var unknown = await server.ReviewAsync(pod, "ml");
        Assert.False(unknown["response"]!["allowed"]!.GetValue<bool>());
        Assert.Contains("dataset 'imagenet' not found in namespace 'ml'", unknown["response"]!["status"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        api.Upsert("datasets", Object("""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"imagenet","namespace":"ml"},"spec":{"mounts":[{"mountPoint":"s3://imagenet"}]}}"""));
        await WaitUntilAsync(async () => (await server.ReviewAsync(pod, "ml"))["response"]!["allowed"]!.GetValue<bool>());

        var requestsBefore = api.Requests.Count;
        var injected = await server.ReviewAsync(pod, "ml");
        Assert.NotNull(injected["response"]!["patch"]);
        Assert.Equal(requestsBefore, api.Requests.Count); // admission read the cache only

        api.Delete("datasets", "ml", "imagenet");
        await WaitUntilAsync(async () => !(await server.ReviewAsync(pod, "ml"))["response"]!["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Startup_ServerOlderThan129_LegacySidecarInjected()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.GitVersion = "v1.28.9";
        api.Upsert("datasets", Object("""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"imagenet","namespace":"default"},"spec":{"mounts":[{"mountPoint":"s3://imagenet"}]}}"""));
        await using var server = await InjectorServer.StartAsync(settings: Watching(api));
        await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);
        var pod = Object("""{"metadata":{"name":"train","labels":{"serverless.fluid.io/inject":"true"},"annotations":{"serverless.fluid.io/datasets":"imagenet"}},"spec":{"containers":[{"name":"app","image":"python"}]}}""");

        var review = await server.ReviewAsync(pod, "default");

        var patch = JsonNode.Parse(Convert.FromBase64String(review["response"]!["patch"]!.GetValue<string>()))!.AsArray();
        var patched = JsonPatchApplier.Apply(pod, patch)!;
        Assert.Equal("fluid-serverless-sidecar", patched["spec"]!["containers"]![0]!["name"]!.GetValue<string>());
        Assert.Null(patched["spec"]!["initContainers"]);
        Assert.Contains(api.Requests, r => r.StartsWith("GET /version", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Watch_AlluxioRuntimeCrdAbsent_ReadyAndInjectsWithoutGateway()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.MissingResources.Add("alluxioruntimes");
        api.Upsert("datasets", Object("""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"imagenet","namespace":"default"},"spec":{"mounts":[{"name":"imagenet","mountPoint":"s3://imagenet"}]},"status":{"runtimes":[{"name":"imagenet","namespace":"default","type":"alluxio"}]}}"""));
        await using var server = await InjectorServer.StartAsync(settings: Watching(api));
        await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);

        var config = await SidecarConfigAsync(server);

        Assert.Null(config["datasets"]![0]!["gateway"]);
        Assert.Contains(api.Requests, r => r.StartsWith("GET /apis/data.fluid.io/v1alpha1/alluxioruntimes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Watch_AlluxioRuntimeGatewayReported_DatasetReadThroughGateway()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.Upsert("datasets", Object("""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"imagenet","namespace":"default"},"spec":{"mounts":[{"name":"imagenet","mountPoint":"s3://imagenet-bucket/v1"}]},"status":{"runtimes":[{"name":"imagenet","namespace":"default","type":"alluxio"}]}}"""));
        await using var server = await InjectorServer.StartAsync(settings: Watching(api));
        await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);
        Assert.Null((await SidecarConfigAsync(server))["datasets"]![0]!["gateway"]);

        api.Upsert("alluxioruntimes", Object("""{"apiVersion":"data.fluid.io/v1alpha1","kind":"AlluxioRuntime","metadata":{"name":"imagenet","namespace":"default"},"spec":{"apiGateway":{"enabled":true}},"status":{"apiGateway":{"endpoint":"imagenet-master-0.default:39999"}}}"""));
        await WaitUntilAsync(async () => (await SidecarConfigAsync(server))["datasets"]![0]!["gateway"] is not null);

        var gateway = (await SidecarConfigAsync(server))["datasets"]![0]!["gateway"]!;
        Assert.Equal("s3://imagenet", gateway["source"]!.GetValue<string>());
        Assert.Equal("http://imagenet-master-0.default:39999/api/v1/s3", gateway["options"]!["endpoint"]!.GetValue<string>());
        Assert.Equal("s3://imagenet-bucket/v1", (await SidecarConfigAsync(server))["datasets"]![0]!["source"]!.GetValue<string>());
    }

    private static async Task<JsonNode> SidecarConfigAsync(InjectorServer server)
    {
        var pod = Object("""{"metadata":{"name":"train","labels":{"serverless.fluid.io/inject":"true"},"annotations":{"serverless.fluid.io/datasets":"imagenet"}},"spec":{"containers":[{"name":"app","image":"python"}]}}""");
        var review = await server.ReviewAsync(pod, "default");
        var patch = JsonNode.Parse(Convert.FromBase64String(review["response"]!["patch"]!.GetValue<string>()))!.AsArray();
        var patched = JsonPatchApplier.Apply(pod, patch)!;
        return JsonNode.Parse(patched["metadata"]!["annotations"]!["serverless.fluid.io/sidecar-config"]!.GetValue<string>())!;
    }

    private static ServerSettings Watching(FakeApiServer api) => new() { WatchCluster = true, ApiServerUrl = api.Url.ToString().TrimEnd('/') };

    private static JsonObject Object(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        // bounded wait for an asynchronous event (a watch delivery), not a timing assertion
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within " + Patience);
            await Task.Delay(50);
        }
    }
}
