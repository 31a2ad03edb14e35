using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Analysis;
using Fluid.Serverless.Injector.Certificates;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Analysis;

/// <summary>
/// <c>fluid-injector analyze --kubeconfig FILE</c> against <see cref="FakeApiServer"/>, a small FAKE Kubernetes API
/// server (no real one runs here) that serves a healthy install: the injector's ConfigMap, webhook configuration,
/// serving-certificate Secret and ready EndpointSlice, a Dataset with its Secret, and a Deployment whose pods the
/// injector injected. Each case breaks one thing and compares the text and JSON output with
/// testdata/analyze/&lt;case&gt;.{txt,json} (UPDATE_GOLDEN=1 regenerates them) and the exit code.
/// </summary>
public sealed class AnalyzeCommandTests : IDisposable
{
    private const string InjectorNamespace = "fluid-serverless";
    private const string Team = "team";
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static readonly CertificateBundle Certificates = CertificateAuthority.CreateBundle("fluid-serverless-injector", InjectorNamespace, Now);
    private static readonly InjectorOptions Options = new() { SidecarImage = "fluid-serverless/sidecar:0.2.0", InjectorNamespace = InjectorNamespace };
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("fluid-analyze-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public async Task Analyze_HealthyCluster_ReportsNothingAndExitsZero()
    {
        await using var api = await HealthyClusterAsync();

        await AssertGoldenAsync(api, "clean", expectedExit: 0);
    }

    [Fact]
    public async Task Analyze_WebhookConfigurationMissing_FS0100()
    {
        await using var api = await HealthyClusterAsync();
        api.Delete("mutatingwebhookconfigurations", "", "fluid-serverless-injector");

        await AssertGoldenAsync(api, "webhook-missing", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_CaBundleOfAnotherCa_FS0101()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("mutatingwebhookconfigurations", Webhook(CertificateAuthority.CreateBundle("fluid-serverless-injector", "old-install", Now).CaCertificatePem));

        await AssertGoldenAsync(api, "cabundle-mismatch", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_NoReadyEndpoint_FS0102()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("endpointslices", EndpointSlice(ready: false));

        await AssertGoldenAsync(api, "no-ready-endpoints", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_ServingCertificateSecretMissing_FS0103()
    {
        await using var api = await HealthyClusterAsync();
        api.Delete("secrets", InjectorNamespace, "fluid-serverless-injector-tls");

        await AssertGoldenAsync(api, "tls-secret-missing", expectedExit: 0);
    }

    [Fact]
    public async Task Analyze_OptedInPodsWithoutSidecar_FS0201PerWorkload()
    {
        await using var api = await HealthyClusterAsync();
        // created before the injector was installed: opted in, uses a Dataset, no sidecar
        api.Upsert("pods", AppPod("batch-runner", "imagenet", owner: null));
        api.Upsert("replicasets", ReplicaSet("api-5f6b7", "api"));
        api.Upsert("pods", AppPod("api-5f6b7-q2x9z", "imagenet", owner: ("ReplicaSet", "api-5f6b7")));
        api.Upsert("pods", AppPod("api-5f6b7-w7k4m", "imagenet", owner: ("ReplicaSet", "api-5f6b7")));
        // opted in, but the webhook would deny it now
        api.Upsert("pods", AppPod("report-0", "no-such-dataset", owner: ("StatefulSet", "report")));

        await AssertGoldenAsync(api, "not-injected", expectedExit: 0);
    }

    [Fact]
    public async Task Analyze_SidecarsOfAnOlderInjector_FS0202PerWorkloadWithRolloutCommand()
    {
        await using var api = await HealthyClusterAsync();
        var previous = Options with { SidecarImage = "fluid-serverless/sidecar:0.1.0" };
        api.Upsert("replicasets", ReplicaSet("web-6c4d8", "web"));
        api.Upsert("pods", Injected(AppPod("web-6c4d8-abcde", "imagenet", ("ReplicaSet", "web-6c4d8")), previous));
        api.Upsert("pods", Injected(AppPod("web-6c4d8-fghij", "imagenet", ("ReplicaSet", "web-6c4d8")), previous));
        // injected before the status annotation recorded the template
        var old = Injected(AppPod("cache-0", "imagenet", ("StatefulSet", "cache")), Options);
        var status = (JsonObject)JsonNode.Parse(old.Obj("metadata").StringMap("annotations")[Contracts.Annotations.Status])!;
        status.Remove("template");
        old.Obj("metadata")!.Obj("annotations")![Contracts.Annotations.Status] = status.ToJsonString();
        api.Upsert("pods", old);
        // a Knative revision's pod: its Knative Service is the workload (Knative owns the Deployment in between)
        var knative = AppPod("hello-00001-deployment-5d8f7-zx9qv", "imagenet", ("ReplicaSet", "hello-00001-deployment-5d8f7"));
        knative.Obj("metadata")!.Obj("labels")!["serving.knative.dev/service"] = "hello";
        api.Upsert("pods", Injected(knative, previous));

        // finished pods do not count
        var done = Injected(AppPod("migrate-x1", "imagenet", ("Job", "migrate")), previous);
        done["status"] = new JsonObject { ["phase"] = "Succeeded" };
        api.Upsert("pods", done);

        await AssertGoldenAsync(api, "outdated-sidecar", expectedExit: 0);
    }

    [Fact]
    public async Task Analyze_DatasetDeletedOrNamedByPolicyOnly_FS0301()
    {
        await using var api = await HealthyClusterAsync();
        api.Delete("datasets", Team, "imagenet");
        api.Upsert("injectionpolicies", Policy("gpu", """{"podSelector": {"matchLabels": {"gpu": "true"}}, "datasets": ["models", "imagenet"]}"""));

        await AssertGoldenAsync(api, "dataset-missing", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_SecretOfAUsedDatasetMissing_FS0302()
    {
        await using var api = await HealthyClusterAsync();
        api.Delete("secrets", Team, "imagenet-keys");

        await AssertGoldenAsync(api, "secret-missing", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_SecretKeyOfAUsedDatasetMissing_FS0303()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("secrets", Secret(Team, "imagenet-keys", ("access-key", "AKIA")));

        await AssertGoldenAsync(api, "secret-key-missing", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_PolicyAsksForFuseWherePodSecurityForbidsIt_FS0401()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("namespaces", Namespace("locked", ("pod-security.kubernetes.io/enforce", "baseline")));
        api.Upsert("injectionpolicies", Policy("fuse-everything", """{"mode": "fuse"}""", "locked"));

        await AssertGoldenAsync(api, "pod-security-mode", expectedExit: 1);
    }

    [Fact]
    public async Task Analyze_OverlappingPoliciesWithDifferentSettings_FS0501()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("injectionpolicies", Policy("a-web", """{"podSelector": {"matchLabels": {"app": "web"}}, "cacheSize": "20Gi"}"""));
        api.Upsert("injectionpolicies", Policy("b-team", """{"cacheSize": "5Gi", "mode": "copy"}"""));
        // c-gpu and d-gpu select disjoint pods: no finding between them, although their settings differ
        api.Upsert("injectionpolicies", Policy("c-gpu", """{"podSelector": {"matchLabels": {"app": "gpu"}}, "cacheSize": "100Gi"}"""));
        api.Upsert("injectionpolicies", Policy("d-gpu", """{"podSelector": {"matchLabels": {"app": "train"}}, "cacheSize": "1Gi"}"""));

        await AssertGoldenAsync(api, "policy-conflict", expectedExit: 0);
    }

    [Fact]
    public async Task Analyze_NamespaceScope_ReportsOnlyThatNamespacesPods()
    {
        await using var api = await HealthyClusterAsync();
        api.Upsert("namespaces", Namespace("other"));
        var stray = AppPod("stray", "imagenet", owner: null);
        stray.Obj("metadata")!["namespace"] = "other";
        api.Upsert("pods", stray);

        var kubeconfig = api.WriteKubeconfig(_directory.FullName);
        var (allExit, all, _) = await RunAsync(["analyze", "--kubeconfig", kubeconfig]);
        var (teamExit, team, _) = await RunAsync(["analyze", "--kubeconfig", kubeconfig, "-n", Team]);

        // in "other" the pod names a Dataset that exists only in "team": the webhook would deny it
        Assert.Equal((0, 0), (allExit, teamExit));
        Assert.Contains("Warning [FS0201] (Pod other/stray)", all);
        Assert.Equal("No issues found when analyzing namespace 'team'.\n", team);
    }

    [Fact]
    public async Task Analyze_UnreachableCluster_ExitsThreeNamingTheProblem()
    {
        string kubeconfig;
        await using (var api = await FakeApiServer.StartAsync())
        {
            kubeconfig = api.WriteKubeconfig(_directory.FullName);
        }

        var (exit, _, stderr) = await RunAsync(["analyze", "--kubeconfig", kubeconfig]);

        Assert.Equal(3, exit);
        Assert.StartsWith("cannot read the cluster: ", stderr);
    }

    [Fact]
    public async Task Analyze_BadOutputFormat_ExitsTwo()
    {
        var (exit, _, stderr) = await RunAsync(["analyze", "-o", "yaml"]);

        Assert.Equal(2, exit);
        Assert.Equal("invalid value 'yaml' for --output: expected 'text' or 'json'\n", stderr.ReplaceLineEndings("\n"));
    }

    private async Task AssertGoldenAsync(FakeApiServer api, string name, int expectedExit, [CallerFilePath] string source = "")
    {
        var kubeconfig = api.WriteKubeconfig(_directory.FullName);
        var (textExit, text, textErrors) = await RunAsync(["analyze", "--kubeconfig", kubeconfig]);
        var (jsonExit, json, _) = await RunAsync(["analyze", "--kubeconfig", kubeconfig, "-o", "json"]);
        Assert.True(textErrors.Length == 0, textErrors);
        Assert.Equal(expectedExit, textExit);
        Assert.Equal(expectedExit, jsonExit);

        // the serving certificate's validity differs per run; nothing else in the output does
        var directory = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source))!, "testdata", "analyze");
        foreach (var (extension, actual) in new[] { ("txt", text), ("json", json) })
        {
            var path = Path.Combine(directory, $"{name}.{extension}");
            if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
            {
                await File.WriteAllTextAsync(path, actual);
                continue;
            }

            Assert.True(File.Exists(path), $"missing golden {path}; run with UPDATE_GOLDEN=1");
            Assert.Equal(await File.ReadAllTextAsync(path), actual);
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var exit = await AnalyzeCommand.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The injector installed as manifests/ installs it, one Dataset with its Secret, and the Deployment
    /// "web" whose two pods the injector injected with its current configuration.</summary>
    private static async Task<FakeApiServer> HealthyClusterAsync()
    {
        var api = await FakeApiServer.StartAsync();
        api.Upsert("namespaces", Namespace(InjectorNamespace));
        api.Upsert("namespaces", Namespace(Team, ("serverless.fluid.io/injection", "enabled")));
        api.Upsert("configmaps", new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = "fluid-serverless-injector", ["namespace"] = InjectorNamespace },
            ["data"] = new JsonObject
            {
                ["FLUID_INJECTOR_Injector__SidecarImage"] = Options.SidecarImage,
                ["FLUID_INJECTOR_Injector__InjectorNamespace"] = InjectorNamespace,
            },
        });
        api.Upsert("mutatingwebhookconfigurations", Webhook(Certificates.CaCertificatePem));
        api.Upsert("secrets", Secret(InjectorNamespace, "fluid-serverless-injector-tls",
            ("tls.crt", Certificates.CertificatePem), ("tls.key", Certificates.KeyPem), ("ca.crt", Certificates.CaCertificatePem)));
        api.Upsert("endpointslices", EndpointSlice(ready: true));
        api.Upsert("datasets", (JsonObject)JsonNode.Parse("""
            {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "imagenet", "namespace": "team"},
             "spec": {"mounts": [{"mountPoint": "s3://imagenet-bucket/train", "options": {"region": "us-east-1"},
               "encryptOptions": [{"name": "fs.s3.accessKeyId", "valueFrom": {"secretKeyRef": {"name": "imagenet-keys", "key": "access-key"}}},
                                  {"name": "fs.s3.accessKeySecret", "valueFrom": {"secretKeyRef": {"name": "imagenet-keys", "key": "secret-key"}}}]}]}}
            """)!);
        api.Upsert("secrets", Secret(Team, "imagenet-keys", ("access-key", "AKIA"), ("secret-key", "s3cr3t")));
        api.Upsert("replicasets", ReplicaSet("web-7d9f5", "web"));
        api.Upsert("pods", Injected(AppPod("web-7d9f5-k8s2p", "imagenet", ("ReplicaSet", "web-7d9f5")), Options));
        api.Upsert("pods", Injected(AppPod("web-7d9f5-x4n7q", "imagenet", ("ReplicaSet", "web-7d9f5")), Options));
        return api;
    }

    /// <summary>The pod as the injector would have admitted it with <paramref name="options"/>.</summary>
    private static JsonObject Injected(JsonObject pod, InjectorOptions options)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: team}
            spec:
              mounts: [{mountPoint: "s3://imagenet-bucket/train"}]
            """);
        var outcome = new PodInjector(cluster, options).Inject(pod, Team);
        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        return outcome.Pod!;
    }

    private static JsonObject AppPod(string name, string dataset, (string Kind, string Name)? owner)
    {
        var metadata = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = Team,
            ["labels"] = new JsonObject { ["app"] = name.Split('-')[0], ["serverless.fluid.io/inject"] = "true" },
            ["annotations"] = new JsonObject { ["serverless.fluid.io/datasets"] = dataset + ":/data" },
        };
        if (owner is var (kind, ownerName))
        {
            metadata["ownerReferences"] = new JsonArray(new JsonObject
            {
                ["apiVersion"] = kind is "ReplicaSet" or "StatefulSet" ? "apps/v1" : "batch/v1",
                ["kind"] = kind,
                ["name"] = ownerName,
                ["uid"] = $"uid-{ownerName}",
                ["controller"] = true,
            });
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = metadata,
            ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "python:3.12" }) },
            ["status"] = new JsonObject { ["phase"] = "Running" },
        };
    }

    private static JsonObject ReplicaSet(string name, string deployment) => (JsonObject)JsonNode.Parse($$$"""
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "{{{name}}}", "namespace": "team",
           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "{{{deployment}}}", "uid": "uid-{{{deployment}}}", "controller": true}]},
         "spec": {"selector": {"matchLabels": {"app": "{{{deployment}}}" } } } }
        """)!;

    private static JsonObject Namespace(string name, params (string Key, string Value)[] labels)
    {
        var labelObject = new JsonObject { ["kubernetes.io/metadata.name"] = name };
        foreach (var (key, value) in labels)
        {
            labelObject[key] = value;
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = labelObject } };
    }

    private static JsonObject Policy(string name, string spec, string @namespace = Team) => new()
    {
        ["apiVersion"] = "serverless.fluid.io/v1alpha1",
        ["kind"] = "InjectionPolicy",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace },
        ["spec"] = JsonNode.Parse(spec),
    };

    private static JsonObject Secret(string @namespace, string name, params (string Key, string Value)[] data)
    {
        var encoded = new JsonObject();
        foreach (var (key, value) in data)
        {
            encoded[key] = Convert.ToBase64String(Encoding.ASCII.GetBytes(value));
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace },
            ["data"] = encoded,
        };
    }

    private static JsonObject Webhook(string caPem) => (JsonObject)JsonNode.Parse($$$"""
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "fluid-serverless-injector"},
         "webhooks": [{"name": "pod.inject.serverless.fluid.io", "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
           "clientConfig": {"service": {"name": "fluid-serverless-injector", "namespace": "fluid-serverless", "path": "/mutate", "port": 443},
                            "caBundle": "{{{Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem))}}}"}}]}
        """)!;

    private static JsonObject EndpointSlice(bool ready) => (JsonObject)JsonNode.Parse($$$"""
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": {"name": "fluid-serverless-injector-x8r2k", "namespace": "fluid-serverless", "labels": {"kubernetes.io/service-name": "fluid-serverless-injector"}},
         "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": {{{(ready ? "true" : "false")}}} } },
                       {"addresses": ["10.244.2.9"], "conditions": {"ready": {{{(ready ? "true" : "false")}}} } }]}
        """)!;
}
