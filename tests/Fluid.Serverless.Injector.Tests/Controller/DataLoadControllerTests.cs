using System.Text.Json;
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
/// DataLoads against <see cref="FakeApiServer"/>, a small FAKE API server (no real Kubernetes API server runs here; its
/// comment lists what it leaves out). Nothing runs the Jobs either: a test plays the Job controller by writing the Job's
/// status (Complete or Failed condition) as the real one would. The warm mode itself runs for real in the sidecar's
/// integration tests (WarmCommandTests).
/// </summary>
public sealed class DataLoadControllerTests
{
    private const string Namespace = "ml";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Created = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    private static readonly InjectorOptions WithTier = new()
    {
        DefaultSharedCache = "warm",
        SharedCacheTiers = new Dictionary<string, SharedCacheTier>
        {
            ["warm"] = new SharedCacheTier { Engine = "redis", Endpoints = ["valkey-0.valkey:6379"], PasswordSecretRef = new SecretKeyReference { Name = "valkey", Key = "password" } },
        },
    };

    [Fact]
    public async Task OnceDataLoad_WithTier_RunsTheSidecarWarmJobAndFollowsItToComplete()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api, DatasetJson("models", """[{"mountPoint":"s3://models/llama","options":{"endpoint":"http://minio:9000"},"encryptOptions":[{"name":"secret.key","valueFrom":{"secretKeyRef":{"name":"s3","key":"secret"}}}]}]"""));
        await using var server = await InjectorServer.StartAsync(options: WithTier, settings: Watching(api), controller: FastController());

        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/7b/","replicas":1},{"path":"/tokenizer.json"}]"""));

        await WaitUntilAsync(() => Phase(api, "warm-models") == DataLoadReconciler.PhaseExecuting);
        var job = Assert.Single(api.All("jobs"));
        Assert.Equal("warm-models-warm", job.Obj("metadata").Str("name"));
        Assert.Equal("warm-models", job.Obj("metadata").Obj("labels").Str(FluidDataLoad.JobLabel));
        var owner = Assert.Single(job.Obj("metadata").Arr("ownerReferences").Objects());
        Assert.Equal(("DataLoad", "warm-models", "uid-warm-models"), (owner.Str("kind"), owner.Str("name"), owner.Str("uid")));
        var template = job.Obj("spec").Obj("template");
        Assert.Equal("false", template.Obj("metadata").Obj("labels").Str(Annotations.Inject));
        Assert.Equal("Never", template.Obj("spec").Str("restartPolicy"));
        var container = Assert.Single(template.Obj("spec").Arr("containers").Objects());
        Assert.Equal(new InjectorOptions().SidecarImage, container.Str("image"));
        Assert.Equal(["warm"], container.Arr("args")!.Select(a => a!.ToString()));
        Assert.Equal(SidecarDefaults.AnnotationsFile, Env(container, EnvironmentNames.SidecarAnnotationsFile)!.Str("value"));
        Assert.Equal(("s3", "secret"), SecretRef(container, "FLUID_SECRET_MODELS_0"));
        Assert.Equal(("valkey", "password"), SecretRef(container, EnvironmentNames.SharedCachePassword));
        Assert.Equal(true, container.Obj("securityContext").Bool("readOnlyRootFilesystem"));

        var config = JsonSerializer.Deserialize(template.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig)!, ContractsJsonContext.Default.SidecarConfig)!;
        var dataset = Assert.Single(config.Datasets);
        Assert.Equal("s3://models/llama", dataset.Source);
        Assert.Equal(["7b/", "tokenizer.json"], dataset.Prefetch);
        Assert.Equal("FLUID_SECRET_MODELS_0", dataset.SecretOptions["secret.key"]);
        Assert.Equal(["valkey-0.valkey:6379"], config.SharedCache!.Endpoints);
        Assert.Equal(EnvironmentNames.SharedCachePassword, config.SharedCache.PasswordEnv);
        Assert.Equal(SidecarDefaults.AdminLocalAddress, config.S3.Address);
        Assert.Equal(SidecarDefaults.AdminLocalAddress, config.Admin.Address);
        Assert.Equal("warm-models-warm", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoJob));

        FinishJob(api, "warm-models-warm", "Complete", start: "2026-12-06T10:00:05Z", end: "2026-12-06T10:02:10Z");

        await WaitUntilAsync(() => Phase(api, "warm-models") == DataLoadReconciler.PhaseComplete);
        var status = Status(api, "warm-models");
        Assert.Equal("2m5s", status.Str("duration"));
        var condition = Assert.Single(status.Arr("conditions").Objects());
        Assert.Equal(("Complete", "True"), (condition.Str("type"), condition.Str("status")));
        Assert.Single(api.All("jobs")); // Once: never a second run
    }

    [Fact]
    public async Task OnceDataLoad_JobFails_DataLoadFailedNamingTheJob()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        await using var server = await InjectorServer.StartAsync(options: WithTier, settings: Watching(api), controller: FastController());
        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/"}]"""));
        await WaitUntilAsync(() => api.Get("jobs", Namespace, "warm-models-warm") is not null);

        FinishJob(api, "warm-models-warm", "Failed", start: "2026-12-06T10:00:05Z", end: "2026-12-06T10:00:35Z", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit");

        await WaitUntilAsync(() => Phase(api, "warm-models") == DataLoadReconciler.PhaseFailed);
        var condition = Assert.Single(Status(api, "warm-models").Arr("conditions").Objects());
        Assert.Equal("Failed", condition.Str("type"));
        Assert.Contains("warm-models-warm failed: BackoffLimitExceeded", condition.Str("message"), StringComparison.Ordinal);
        Assert.Equal("30s", Status(api, "warm-models").Str("duration"));
    }

    [Fact]
    public async Task DataLoad_DatasetBoundToAFluidRuntime_LeftAlone()
    {
        await using var api = await FakeApiServer.StartAsync();
        var dataset = DatasetJson("models", """[{"mountPoint":"s3://models"}]""");
        dataset["status"] = JsonNode.Parse("""{"runtimes":[{"name":"models","namespace":"ml","type":"alluxio","category":"Accelerate"}]}""");
        SeedCluster(api, dataset);
        await using var server = await InjectorServer.StartAsync(options: WithTier, settings: Watching(api), controller: FastController());
        await WaitUntilAsync(() => server.Services.GetRequiredService<ControllerMetrics>().Leading);

        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/"}]"""));
        await WaitUntilAsync(() => server.Cluster.DataLoads.Find(Namespace, "warm-models") is not null);
        var reconciler = server.Services.GetRequiredService<DataLoadReconciler>();
        await reconciler.ReconcileAsync(Namespace, "warm-models", CancellationToken.None); // at least one whole pass over it

        Assert.Empty(api.All("jobs"));
        Assert.Null(api.Get("dataloads", Namespace, "warm-models")!["status"]);
        Assert.DoesNotContain(api.Requests, r => r.Contains("/dataloads/warm-models/status", StringComparison.Ordinal) || r.Contains("/jobs", StringComparison.Ordinal) && r.StartsWith("POST", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CronDataLoad_FiresAtEachScheduledTime_StatusAsFluidWritesIt()
    {
        await using var api = await FakeApiServer.StartAsync();
        var time = new FakeTimeProvider(Created.AddMinutes(5));
        var (cluster, reconciler, client) = Direct(api, time, WithTier, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        using var _ = client;
        api.Upsert("dataloads", DataLoad("nightly", "models", """[{"path":"/"}]""", policy: "Cron", schedule: "0 2 * * *"));

        await PassAsync(api, cluster, reconciler, "nightly");
        Assert.Empty(api.All("jobs"));
        Assert.Equal(DataLoadReconciler.PhasePending, Phase(api, "nightly"));

        time.SetUtcNow(new DateTimeOffset(2026, 12, 7, 2, 0, 30, TimeSpan.Zero));
        await PassAsync(api, cluster, reconciler, "nightly");
        var first = Assert.Single(api.All("jobs"));
        Assert.Equal(DataLoadReconciler.PhaseExecuting, Phase(api, "nightly"));
        Assert.Equal("2026-12-07T02:00:00Z", Status(api, "nightly").Str("lastScheduleTime"));

        FinishJob(api, first.Obj("metadata").Str("name")!, "Complete", start: "2026-12-07T02:00:31Z", end: "2026-12-07T02:05:31Z");
        await PassAsync(api, cluster, reconciler, "nightly");
        Assert.Equal(DataLoadReconciler.PhaseComplete, Phase(api, "nightly"));
        Assert.Equal("2026-12-07T02:05:31Z", Status(api, "nightly").Str("lastSuccessfulTime"));
        Assert.Equal("5m0s", Status(api, "nightly").Str("duration"));

        time.SetUtcNow(new DateTimeOffset(2026, 12, 7, 23, 0, 0, TimeSpan.Zero));
        await PassAsync(api, cluster, reconciler, "nightly");
        Assert.Single(api.All("jobs")); // not due before 02:00

        time.SetUtcNow(new DateTimeOffset(2026, 12, 8, 2, 0, 10, TimeSpan.Zero));
        await PassAsync(api, cluster, reconciler, "nightly");
        Assert.Equal(2, api.All("jobs").Count);
        Assert.Equal(DataLoadReconciler.PhaseExecuting, Phase(api, "nightly"));
        Assert.Equal("2026-12-08T02:00:00Z", Status(api, "nightly").Str("lastScheduleTime"));
        Assert.Equal("2026-12-07T02:05:31Z", Status(api, "nightly").Str("lastSuccessfulTime")); // kept while the next run runs
    }

    [Fact]
    public async Task CronDataLoad_InvalidSchedule_FailedNamingTheField()
    {
        await using var api = await FakeApiServer.StartAsync();
        var (cluster, reconciler, client) = Direct(api, new FakeTimeProvider(Created), WithTier, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        using var _ = client;
        api.Upsert("dataloads", DataLoad("nightly", "models", """[{"path":"/"}]""", policy: "Cron", schedule: "0 25 * * *"));

        await PassAsync(api, cluster, reconciler, "nightly");

        Assert.Equal(DataLoadReconciler.PhaseFailed, Phase(api, "nightly"));
        Assert.Contains("spec.schedule '0 25 * * *': invalid value '25' in hour field", Assert.Single(Status(api, "nightly").Arr("conditions").Objects()).Str("message"), StringComparison.Ordinal);
        Assert.Empty(api.All("jobs"));
    }

    [Fact]
    public async Task RunAfter_WaitsUntilTheNamedDataLoadIsComplete()
    {
        await using var api = await FakeApiServer.StartAsync();
        var (cluster, reconciler, client) = Direct(api, new FakeTimeProvider(Created), WithTier,
            DatasetJson("models", """[{"mountPoint":"s3://models"}]"""), DatasetJson("tokenizers", """[{"mountPoint":"s3://tokenizers"}]"""));
        using var _ = client;
        api.Upsert("dataloads", DataLoad("first", "models", """[{"path":"/"}]"""));
        api.Upsert("dataloads", DataLoad("second", "tokenizers", """[{"path":"/"}]""", runAfter: """{"kind":"DataLoad","name":"first"}"""));

        await PassAsync(api, cluster, reconciler, "second");
        Assert.Empty(api.All("jobs"));
        Assert.Equal(DataLoadReconciler.PhasePending, Phase(api, "second"));
        Assert.Equal(false, Status(api, "second").Obj("waitingFor").Bool("operationComplete"));

        await PassAsync(api, cluster, reconciler, "first");
        await PassAsync(api, cluster, reconciler, "second");
        Assert.Equal(["first-warm"], api.All("jobs").Select(j => j.Obj("metadata").Str("name")));

        FinishJob(api, "first-warm", "Complete", start: "2026-12-06T10:00:05Z", end: "2026-12-06T10:01:00Z");
        await PassAsync(api, cluster, reconciler, "first");
        Assert.Equal(DataLoadReconciler.PhaseComplete, Phase(api, "first"));
        await PassAsync(api, cluster, reconciler, "second");

        Assert.Equal(["first-warm", "second-warm"], api.All("jobs").Select(j => j.Obj("metadata").Str("name")));
        Assert.Equal(DataLoadReconciler.PhaseExecuting, Phase(api, "second"));
        Assert.Equal(true, Status(api, "second").Obj("waitingFor").Bool("operationComplete"));
    }

    [Fact]
    public async Task OnceDataLoad_NoTier_TargetsGoIntoThePrefetchListOfTheDatasetsRunningPods()
    {
        await using var api = await FakeApiServer.StartAsync();
        var options = new InjectorOptions();
        var (cluster, reconciler, client) = Direct(api, new FakeTimeProvider(Created), options,
            DatasetJson("models", """[{"mountPoint":"s3://models"}]"""), DatasetJson("other", """[{"mountPoint":"s3://other"}]"""));
        using var _ = client;
        foreach (var (pod, dataset) in new[] { ("serve-1", "models"), ("serve-2", "models"), ("other-1", "other") })
        {
            api.Upsert("pods", InjectedPod(pod, dataset));
        }

        var otherBefore = api.Get("pods", Namespace, "other-1")!.ToJsonString();
        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/7b/"},{"path":"/tokenizer.json"}]"""));

        await PassAsync(api, cluster, reconciler, "warm-models");

        Assert.Empty(api.All("jobs"));
        foreach (var pod in new[] { "serve-1", "serve-2" })
        {
            var config = JsonSerializer.Deserialize(api.Get("pods", Namespace, pod)!.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig)!, ContractsJsonContext.Default.SidecarConfig)!;
            Assert.Equal(["7b/", "tokenizer.json"], Assert.Single(config.Datasets).Prefetch);
            Assert.Equal("s3://models", config.Datasets[0].Source);
        }

        Assert.Equal(otherBefore, api.Get("pods", Namespace, "other-1")!.ToJsonString());
        Assert.Equal(2, api.Patches.Count(p => p.Resource == "pods"));
        Assert.All(api.Patches.Where(p => p.Resource == "pods"), p => Assert.Contains("\"resourceVersion\"", p.Patch, StringComparison.Ordinal));
        Assert.Equal(DataLoadReconciler.PhaseExecuting, Phase(api, "warm-models"));
        Assert.Equal("2", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoPods));
    }

    /// <summary>
    /// Without a tier the DataLoad follows the pods' warm-up on their read-only /metrics. The sidecars here are a small
    /// scripted source of /metrics text, written by the same exporter the sidecar uses with the sidecar's series and tags
    /// (the sidecar's own tests pin that it tags each job with the plan id of its entries).
    /// </summary>
    [Fact]
    public async Task OnceDataLoad_NoTier_FollowsThePodsMetricsUntilEveryPodWarmedTheTargets()
    {
        await using var api = await FakeApiServer.StartAsync();
        var metrics = new ScriptedPodMetrics();
        var (cluster, reconciler, client) = Direct(api, new FakeTimeProvider(Created), new InjectorOptions(), metrics, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        using var _ = client;
        api.Upsert("pods", InjectedPod("serve-1", "models", podIp: "10.0.0.1"));
        api.Upsert("pods", InjectedPod("serve-2", "models", podIp: "10.0.0.2"));
        api.Upsert("pods", InjectedPod("serve-3", "models", podIp: "10.0.0.3")); // its /metrics never answers
        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/7b/"}]"""));
        var plan = PrefetchPlans.IdOf(["7b/"]);

        await PassAsync(api, cluster, reconciler, "warm-models"); // handed over
        metrics.Text["10.0.0.1"] = SidecarMetrics(("models", "pf-1", "Complete", PrefetchPlans.IdOf(["old/"]), 3, 0, 3)); // an earlier list only: not started
        metrics.Text["10.0.0.2"] = SidecarMetrics(("models", "pf-2", "Loading", plan, 4, 0, 10));
        await PassAsync(api, cluster, reconciler, "warm-models");

        Assert.Equal(DataLoadReconciler.PhaseExecuting, Phase(api, "warm-models"));
        Assert.Equal("0", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoPodsWarmed));
        Assert.Equal("4/10", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoFiles));
        Assert.Equal(8000, metrics.Ports.Distinct().Single()); // the sidecar's probe port from each pod's config

        metrics.Text["10.0.0.1"] = SidecarMetrics(("models", "pf-1", "Complete", PrefetchPlans.IdOf(["old/"]), 3, 0, 3), ("models", "pf-2", "Complete", plan, 10, 0, 10));
        metrics.Text["10.0.0.2"] = SidecarMetrics(("models", "pf-2", "Complete", plan, 10, 0, 10));
        await PassAsync(api, cluster, reconciler, "warm-models");

        Assert.Equal(DataLoadReconciler.PhaseComplete, Phase(api, "warm-models"));
        Assert.Equal("2", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoPodsWarmed));
        Assert.Equal("20/20", Status(api, "warm-models").Obj("infos").Str(DataLoadReconciler.InfoFiles));
        var message = Assert.Single(Status(api, "warm-models").Arr("conditions").Objects()).Str("message");
        Assert.Contains("2 pod(s) of dataset 'models' warmed", message, StringComparison.Ordinal);
        Assert.Contains("serve-3", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnceDataLoad_NoTier_APodsWarmUpFailsFiles_DataLoadFailedNamingThePod()
    {
        await using var api = await FakeApiServer.StartAsync();
        var metrics = new ScriptedPodMetrics();
        var (cluster, reconciler, client) = Direct(api, new FakeTimeProvider(Created), new InjectorOptions(), metrics, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        using var _ = client;
        api.Upsert("pods", InjectedPod("serve-1", "models", podIp: "10.0.0.1"));
        api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/7b/"}]"""));

        await PassAsync(api, cluster, reconciler, "warm-models");
        metrics.Text["10.0.0.1"] = SidecarMetrics(("models", "pf-1", "Complete", PrefetchPlans.IdOf(["7b/"]), 8, 2, 10));
        await PassAsync(api, cluster, reconciler, "warm-models");

        Assert.Equal(DataLoadReconciler.PhaseFailed, Phase(api, "warm-models"));
        Assert.Contains("pod serve-1: the warm-up failed 2 of 10 files", Assert.Single(Status(api, "warm-models").Arr("conditions").Objects()).Str("message"), StringComparison.Ordinal);
    }

    /// <summary>/metrics text as a sidecar writes it: the prefetch series per job, through the shared exporter.</summary>
    private static string SidecarMetrics(params (string Dataset, string Job, string Phase, string Plan, long Done, long Failed, long Total)[] jobs)
    {
        using var meter = new System.Diagnostics.Metrics.Meter("test." + Guid.NewGuid().ToString("N"));
        foreach (var (name, value) in new (string, Func<(string, string, string, string, long, long, long), long>)[]
        {
            ("fluid_sidecar_prefetch_files_total", j => j.Item7),
            ("fluid_sidecar_prefetch_files_done", j => j.Item5),
            ("fluid_sidecar_prefetch_files_failed", j => j.Item6),
        })
        {
            meter.CreateObservableGauge(name, () => jobs.Select(j => new System.Diagnostics.Metrics.Measurement<double>(
                value(j), new("dataset", j.Dataset), new("job", j.Job), new("phase", j.Phase), new("plan", j.Plan))));
        }

        using var exporter = new Fluid.Serverless.Contracts.Metrics.PrometheusMeterExporter(m => ReferenceEquals(m, meter));
        return exporter.ToText();
    }

    /// <summary>Pods' /metrics by pod IP (a small fake: no pod network here); an IP without text does not answer.</summary>
    private sealed class ScriptedPodMetrics : IPodMetricsSource
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, string> Text { get; } = new();

        public System.Collections.Concurrent.ConcurrentBag<int> Ports { get; } = [];

        public Task<string?> ReadAsync(string podIp, int port, CancellationToken cancellationToken)
        {
            Ports.Add(port);
            return Task.FromResult(Text.TryGetValue(podIp, out var text) ? text : null);
        }
    }

    /// <summary>Every request of the DataLoad controller (watches, Job create, status patches, pod patches) must be granted
    /// by manifests/base/rbac.yaml.</summary>
    [Fact]
    public async Task DataLoadController_EveryRequest_IsGrantedByTheBaseRbac()
    {
        var rules = DatasetControllerTests.ManifestRules();
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        await using (var server = await InjectorServer.StartAsync(options: WithTier, settings: Watching(api), controller: FastController()))
        {
            api.Upsert("dataloads", DataLoad("warm-models", "models", """[{"path":"/"}]"""));
            await WaitUntilAsync(() => api.Get("jobs", Namespace, "warm-models-warm") is not null);
            FinishJob(api, "warm-models-warm", "Complete", start: "2026-12-06T10:00:05Z", end: "2026-12-06T10:01:00Z");
            await WaitUntilAsync(() => Phase(api, "warm-models") == DataLoadReconciler.PhaseComplete);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in api.Requests.ToList().Where(r => !r.StartsWith("GET /version", StringComparison.Ordinal)))
        {
            var (verb, resource, @namespace, name) = DatasetControllerTests.Classify(request);
            seen.Add($"{verb} {resource}");
            Assert.True(
                rules.Any(r => r.Verbs.Contains(verb) && r.Resources.Contains(resource)
                    && (r.Names.Count == 0 || (name is not null && r.Names.Contains(name)))
                    && (r.Namespace is null || r.Namespace == @namespace)),
                $"'{request}' ({verb} {resource} {@namespace}/{name}) is not granted by manifests/base/rbac.yaml");
        }

        Assert.Contains("watch dataloads", seen);
        Assert.Contains("watch jobs", seen);
        Assert.Contains("create jobs", seen);
        Assert.Contains("patch dataloads/status", seen);
    }

    [Fact]
    public async Task Shutdown_WhileLeading_ReleasesTheLease()
    {
        await using var api = await FakeApiServer.StartAsync();
        SeedCluster(api, DatasetJson("models", """[{"mountPoint":"s3://models"}]"""));
        var server = await InjectorServer.StartAsync(settings: Watching(api), controller: FastController());
        await WaitUntilAsync(() => server.Services.GetRequiredService<ControllerMetrics>().Leading);
        Assert.Equal("replica-a", Lease(api).Str("holderIdentity"));

        await server.DisposeAsync();

        var lease = Lease(api);
        Assert.True(string.IsNullOrEmpty(lease.Str("holderIdentity")), lease.ToJsonString());
        Assert.Equal(1, lease["leaseDurationSeconds"]!.GetValue<int>());
    }

    private static JsonObject Lease(FakeApiServer api) => api.Get("leases", "fluid-serverless", "fluid-serverless-injector-controller")!.Obj("spec")!;

    private static (ClusterState Cluster, DataLoadReconciler Reconciler, k8s.Kubernetes Client) Direct(FakeApiServer api, FakeTimeProvider time, InjectorOptions options, params JsonObject[] datasets) =>
        Direct(api, time, options, new ScriptedPodMetrics(), datasets);

    private static (ClusterState Cluster, DataLoadReconciler Reconciler, k8s.Kubernetes Client) Direct(FakeApiServer api, FakeTimeProvider time, InjectorOptions options, IPodMetricsSource metrics, params JsonObject[] datasets)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, new JsonObject { ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = Namespace } });
        foreach (var dataset in datasets)
        {
            api.Upsert("datasets", dataset);
            ClusterStateLoader.Apply(cluster, dataset);
        }

        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.Url.ToString() });
        var reconciler = new DataLoadReconciler(client, cluster, options, new PatchPacer(TimeProvider.System, 1000, 1000), time,
            NullLogger<DataLoadReconciler>.Instance, TimeSpan.FromSeconds(10), metrics);
        return (cluster, reconciler, client);
    }

    /// <summary>One pass, with the cache first brought up to what the API server holds (what the watches do in the injector).</summary>
    private static async Task PassAsync(FakeApiServer api, ClusterState cluster, DataLoadReconciler reconciler, string name)
    {
        foreach (var (resource, kind) in new[] { ("dataloads", "DataLoad"), ("jobs", "Job"), ("pods", "Pod") })
        {
            foreach (var obj in api.All(resource))
            {
                obj["kind"] = kind;
                ClusterStateLoader.Apply(cluster, obj);
            }
        }

        Assert.False(await reconciler.ReconcileAsync(Namespace, name, CancellationToken.None));
    }

    private static void FinishJob(FakeApiServer api, string name, string condition, string start, string end, string reason = "", string message = "")
    {
        var job = api.Get("jobs", Namespace, name)!;
        job["status"] = new JsonObject
        {
            ["startTime"] = start,
            ["completionTime"] = condition == "Complete" ? end : null,
            [condition == "Complete" ? "succeeded" : "failed"] = 1,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = condition, ["status"] = "True", ["reason"] = reason, ["message"] = message, ["lastTransitionTime"] = end }),
        };
        api.Upsert("jobs", job);
    }

    private static ControllerOptions FastController() => new()
    {
        Identity = "replica-a",
        LeaseNamespace = "fluid-serverless",
        LeaseDurationSeconds = 3,
        RenewDeadlineSeconds = 2,
        RetryPeriodSeconds = 1,
        PatchesPerSecond = 100,
        PatchBurst = 10,
        DataLoadTickSeconds = 1,
    };

    private static void SeedCluster(FakeApiServer api, params JsonObject[] datasets)
    {
        api.Upsert("namespaces", Parse($$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        foreach (var dataset in datasets)
        {
            api.Upsert("datasets", dataset);
        }
    }

    private static JsonObject DatasetJson(string name, string mounts) => Parse(
        $$$"""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}"},"spec":{"mounts":{{{mounts}}}}}""");

    private static JsonObject DataLoad(string name, string dataset, string targets, string policy = "Once", string? schedule = null, string? runAfter = null)
    {
        var load = Parse($$$"""
            {"apiVersion":"data.fluid.io/v1alpha1","kind":"DataLoad",
             "metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}","uid":"uid-{{{name}}}","creationTimestamp":"{{{Created:yyyy-MM-dd'T'HH:mm:ss'Z'}}}"},
             "spec":{"dataset":{"name":"{{{dataset}}}","namespace":"{{{Namespace}}}"},"loadMetadata":true,"target":{{{targets}}},"policy":"{{{policy}}}"}}
            """);
        if (schedule is not null)
        {
            load.Obj("spec")!["schedule"] = schedule;
        }

        if (runAfter is not null)
        {
            load.Obj("spec")!["runAfter"] = JsonNode.Parse(runAfter);
        }

        return load;
    }

    /// <summary>A pod as the webhook admits it (same <see cref="PodInjector"/>), using the dataset through its PVC.</summary>
    private static JsonObject InjectedPod(string name, string dataset, string? podIp = null)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, Parse($$$"""{"kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        ClusterStateLoader.Apply(cluster, DatasetJson(dataset, $$$"""[{"mountPoint":"s3://{{{dataset}}}"}]"""));
        var pod = Parse($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}","uid":"uid-{{{name}}}","labels":{"serverless.fluid.io/inject":"true"}},
             "spec":{"containers":[{"name":"app","image":"python","volumeMounts":[{"name":"data","mountPath":"/data"}]}],
                     "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"{{{dataset}}}"}}]}}
            """);
        var outcome = new PodInjector(cluster, new InjectorOptions { AdminPort = 8000 }).Inject(pod, Namespace);
        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        if (podIp is not null)
        {
            outcome.Pod!["status"] = new JsonObject { ["podIP"] = podIp };
        }

        return outcome.Pod!;
    }

    private static JsonObject? Env(JsonObject container, string name) => container.Arr("env").Objects().FirstOrDefault(e => e.Str("name") == name);

    private static (string?, string?) SecretRef(JsonObject container, string name)
    {
        var reference = Env(container, name).Obj("valueFrom").Obj("secretKeyRef");
        return (reference.Str("name"), reference.Str("key"));
    }

    private static JsonObject Status(FakeApiServer api, string name) => api.Get("dataloads", Namespace, name)!.Obj("status")!;

    private static string? Phase(FakeApiServer api, string name) => api.Get("dataloads", Namespace, name)?.Obj("status").Str("phase");

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
