using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Offline;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Offline;

/// <summary>
/// <c>inject</c>, <c>explain</c> and <c>sidecar-config</c> with <c>--kubeconfig FILE</c>: the Datasets, Namespaces
/// and InjectionPolicies come from <see cref="FakeApiServer"/>, a small FAKE Kubernetes API server (no real one runs
/// here), instead of exported files.
/// </summary>
public sealed class LiveClusterOfflineCommandTests : IDisposable
{
    private const string Pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: trainer
          namespace: team
          labels: {app: trainer}
        spec:
          containers:
          - name: app
            image: python:3.12
            volumeMounts: [{name: data, mountPath: /data}]
          volumes:
          - name: data
            persistentVolumeClaim: {claimName: imagenet}
        """;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("fluid-offline-live-");

    public void Dispose() => _directory.Delete(recursive: true);

    private static async Task<FakeApiServer> ClusterAsync(string gitVersion = "v1.30.2")
    {
        var api = await FakeApiServer.StartAsync();
        api.GitVersion = gitVersion;
        api.Upsert("namespaces", (JsonObject)JsonNode.Parse("""
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
            """)!);
        api.Upsert("datasets", (JsonObject)JsonNode.Parse("""
            {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "imagenet", "namespace": "team"},
             "spec": {"mounts": [{"mountPoint": "s3://imagenet-bucket/train"}]}}
            """)!);
        api.Upsert("injectionpolicies", (JsonObject)JsonNode.Parse("""
            {"apiVersion": "serverless.fluid.io/v1alpha1", "kind": "InjectionPolicy", "metadata": {"name": "trainers", "namespace": "team"},
             "spec": {"podSelector": {"matchLabels": {"app": "trainer"}}, "cacheSize": "3Gi"}}
            """)!);
        return api;
    }

    private (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var podFile = Path.Combine(_directory.FullName, "pod.yaml");
        File.WriteAllText(podFile, Pod);
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var exit = OfflineCommand.Run([args[0], "-f", podFile, .. args[1..]], TextReader.Null, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Explain_WithKubeconfig_UsesTheLiveDatasetPolicyAndPodSecurityLabel()
    {
        await using var api = await ClusterAsync();

        var (exit, stdout, stderr) = Run("explain", "--kubeconfig", api.WriteKubeconfig(_directory.FullName));

        Assert.True(exit == 0, stderr);
        Assert.Contains($"Cluster objects listed from the cluster of kubeconfig '{Path.Combine(_directory.FullName, "kubeconfig")}'.", stdout);
        Assert.Contains("Pod/trainer (namespace team): injected", stdout);
        Assert.Contains("InjectionPolicy selecting the pod: team/trainers", stdout);
        Assert.Contains("mode: copy", stdout);
        Assert.Contains("pod-security.kubernetes.io/enforce=baseline", stdout);
        Assert.Contains("dataset imagenet: volume 'data' (PVC replaced by emptyDir); sources: s3://imagenet-bucket/train", stdout);
        // every list is a read: nothing was written to the cluster
        Assert.DoesNotContain(api.Requests, r => !r.StartsWith("GET ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Inject_WithKubeconfig_InjectsWithThePolicysSettings_AndTheServerVersionDecidesNativeSidecars()
    {
        await using var api = await ClusterAsync(gitVersion: "v1.28.9");

        var (exit, stdout, stderr) = Run("inject", "--kubeconfig", api.WriteKubeconfig(_directory.FullName));

        Assert.True(exit == 0, stderr);
        var pod = (JsonObject)YamlJson.ParseDocuments(stdout).Single()!;
        var containers = pod.Obj("spec").Arr("containers").Objects().ToList();
        Assert.Equal("fluid-serverless-sidecar", containers[0].Str("name")); // legacy form on 1.28: the first container
        Assert.Null(pod.Obj("spec").Arr("initContainers"));
        // the policy's cacheSize is the sidecar's cache quota
        Assert.Contains("\"quotaBytes\":3221225472", pod.Obj("metadata").StringMap("annotations")["serverless.fluid.io/sidecar-config"]);
    }

    [Fact]
    public async Task Inject_WithKubeconfigAndClusterFile_TheFileReplacesTheLiveObject()
    {
        await using var api = await ClusterAsync();
        var clusterFile = Path.Combine(_directory.FullName, "cluster.yaml");
        File.WriteAllText(clusterFile, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: team}
            spec:
              mounts: [{mountPoint: "s3://imagenet-staging/train"}]
            """);

        var (exit, stdout, stderr) = Run("sidecar-config", "--kubeconfig", api.WriteKubeconfig(_directory.FullName), "--cluster", clusterFile);

        Assert.True(exit == 0, stderr);
        Assert.Contains("\"source\":\"s3://imagenet-staging/train\"", stdout);
    }

    [Fact]
    public async Task Explain_WithUnreachableCluster_ExitsOneNamingTheKubeconfig()
    {
        string kubeconfig;
        await using (var api = await ClusterAsync())
        {
            kubeconfig = api.WriteKubeconfig(_directory.FullName);
        }

        var (exit, _, stderr) = Run("explain", "--kubeconfig", kubeconfig);

        Assert.Equal(1, exit);
        Assert.StartsWith($"cannot read the cluster of kubeconfig '{kubeconfig}': ", stderr);
    }
}
