using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Offline;

namespace Fluid.Serverless.Injector.Tests.Offline;

public sealed class OfflineCommandTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fluid-injector-offline", Guid.NewGuid().ToString("N"));

    public OfflineCommandTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private const string Workloads = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: trainer
        spec:
          template:
            metadata:
              labels: {app: trainer}
            spec:
              containers:
              - name: app
                image: python:3.11
                volumeMounts:
                - {name: data, mountPath: /data}
              volumes:
              - name: data
                persistentVolumeClaim: {claimName: imagenet}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          replicas: "3"
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: nightly
        spec:
          schedule: "0 1 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers:
                  - name: job
                    image: busybox
        ---
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: hello
        spec:
          template:
            spec:
              containers:
              - image: ghcr.io/example/hello
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: opted-out
          labels: {serverless.fluid.io/inject: "false"}
        spec:
          containers:
          - {name: app, image: nginx}
        """;

    [Fact]
    public void Inject_MultiDocumentWorkloads_EachTemplateInjectedOthersUntouched()
    {
        var (code, output, errors) = Run("inject", "-f", Write("workloads.yaml", Workloads), "--dataset", "imagenet=s3://imagenet-bucket/v1");

        Assert.Equal(0, code);
        var documents = YamlJson.ParseDocuments(output);
        Assert.Equal(5, documents.Count);
        var deployment = documents[0]!["spec"]!["template"]!;
        Assert.Equal("fluid-serverless-sidecar", deployment["spec"]!["initContainers"]![0]!["name"]!.GetValue<string>());
        Assert.True(deployment["spec"]!["volumes"]![0]!["emptyDir"] is JsonObject);
        Assert.Equal("3", documents[1]!["data"]!["replicas"]!.GetValue<string>());
        var cronPod = documents[2]!["spec"]!["jobTemplate"]!["spec"]!["template"]!;
        Assert.Equal("imagenet", cronPod["metadata"]!["annotations"]!["serverless.fluid.io/datasets"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:17480", cronPod["spec"]!["containers"]![0]!["env"]![0]!["value"]!.GetValue<string>());
        var knative = documents[3]!["spec"]!["template"]!;
        Assert.Contains("\"platform\":\"knative\"", knative["metadata"]!["annotations"]!["serverless.fluid.io/status"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(documents[4]!["spec"]!["initContainers"]);
        Assert.Contains("Pod/opted-out: not injected", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_OptedOutAndInjected_SaysWhy()
    {
        // A plain injector config (the shape of appsettings) that injects by default.
        var injectorConfig = Write("injector.yaml", "Injector:\n  InjectByDefault: true\n");
        var (code, output, _) = Run("explain", "-f", Write("workloads.yaml", Workloads), "--dataset", "imagenet=s3://imagenet-bucket/v1", "--injector-config", injectorConfig);

        Assert.Equal(0, code);
        Assert.Contains("Deployment/trainer (namespace default): injected", output, StringComparison.Ordinal);
        Assert.Contains("dataset imagenet: volume 'data' (PVC replaced by emptyDir); sources: s3://imagenet-bucket/v1", output, StringComparison.Ordinal);
        Assert.Contains("Pod/opted-out (namespace default): not injected", output, StringComparison.Ordinal);
        Assert.Contains("decided by: PodLabel — pod label serverless.fluid.io/inject=\"false\" opts out", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_NamespaceEnforcesPodSecurityBaseline_ShowsCopyChosenInsteadOfFuse()
    {
        var cluster = Write("psa-cluster.yaml", """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: secure
              labels: {pod-security.kubernetes.io/enforce: baseline}
            ---
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: coco, namespace: secure}
            spec:
              mounts: [{mountPoint: "https://images.cocodataset.org/"}]
            """);
        var pod = Write("psa-pod.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              namespace: secure
              labels: {serverless.fluid.io/inject: "true"}
              annotations: {serverless.fluid.io/datasets: "coco:/data"}
            spec:
              containers: [{name: app, image: python}]
            """);

        var (code, output, _) = Run("explain", "-f", pod, "--cluster", cluster);

        Assert.Equal(0, code);
        Assert.Contains("mode: copy;", output, StringComparison.Ordinal);
        Assert.Contains("mode chosen: auto: the privileged FUSE sidecar is forbidden by Pod Security Admission (label pod-security.kubernetes.io/enforce=baseline on namespace 'secure')", output, StringComparison.Ordinal);
        Assert.Contains("warning: mode 'auto' chose 'copy', not 'fuse'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Inject_ExplicitFuseInRestrictedNamespaceFromClusterFile_DeniedNamingTheLabel()
    {
        var cluster = Write("restricted-cluster.yaml", """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: locked
              labels: {pod-security.kubernetes.io/enforce: restricted}
            ---
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: coco, namespace: locked}
            spec:
              mounts: [{mountPoint: "https://images.cocodataset.org/"}]
            """);
        var pod = Write("fuse-pod.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              namespace: locked
              annotations: {serverless.fluid.io/datasets: "coco:/data", serverless.fluid.io/mode: fuse}
            spec:
              containers: [{name: app, image: python}]
            """);

        var (code, _, errors) = Run("inject", "-f", pod, "--cluster", cluster);

        Assert.Equal(1, code);
        Assert.Contains("mode 'fuse' needs a privileged sidecar with SYS_ADMIN, which Pod Security Admission forbids (label pod-security.kubernetes.io/enforce=restricted on namespace 'locked')", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Inject_ClusterFileWithPolicyAndBadAnnotation_DeniedWithMessageAndExitCode1()
    {
        var cluster = Write("cluster.yaml", """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: coco, namespace: team}
            spec:
              mounts: [{mountPoint: "https://images.cocodataset.org/"}]
            """);
        var pod = Write("pod.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              namespace: team
              annotations: {serverless.fluid.io/datasets: coco, serverless.fluid.io/cache-medium: ssd}
            spec:
              containers: [{name: app, image: python}]
            """);

        var (code, _, errors) = Run("inject", "-f", pod, "--cluster", cluster);

        Assert.Equal(1, code);
        Assert.Contains("invalid value 'ssd' for annotation 'serverless.fluid.io/cache-medium': expected 'disk' or 'memory'", errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--dataset", "no-url", "invalid value 'no-url' for --dataset: expected NAME=URL")]
    [InlineData("--bogus", "x", "unknown option '--bogus'")]
    public void Inject_BadFlag_ExitCode2WithMessage(string flag, string value, string message)
    {
        var (code, _, errors) = Run("inject", "-f", Write("w.yaml", Workloads), flag, value);

        Assert.Equal(2, code);
        Assert.Contains(message, errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Inject_MissingFile_ExitCode1NamesFile()
    {
        var (code, _, errors) = Run("inject", "-f", Path.Combine(_directory, "absent.yaml"));

        Assert.Equal(1, code);
        Assert.Contains("absent.yaml", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Inject_NfsDatasetInKnativeService_NotesThatOnlyTheWebhookCanCarryTheNfsVolume()
    {
        const string Service = """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata:
              name: predictor
            spec:
              template:
                metadata:
                  annotations: {serverless.fluid.io/datasets: "models:/models"}
                spec:
                  containers:
                  - image: ghcr.io/example/predictor
            """;

        var (code, output, errors) = Run("inject", "-f", Write("ksvc.yaml", Service), "--dataset", "models=nfs://nas.example.com/models");

        Assert.Equal(0, code);
        var volumes = YamlJson.ParseDocuments(output)[0]!["spec"]!["template"]!["spec"]!["volumes"]!.AsArray();
        var nfs = Assert.Single(volumes, v => v!["nfs"] is not null)!["nfs"]!;
        Assert.Equal("nas.example.com", nfs["server"]!.GetValue<string>());
        Assert.Equal("/models", nfs["path"]!.GetValue<string>());
        Assert.Contains("Knative Services cannot carry the nfs volume", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void SidecarConfig_AnnotatedPod_PrintsTheConfigJsonTheSidecarReads()
    {
        var pod = Write("pod.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: fn
              annotations: {serverless.fluid.io/datasets: "models:/models"}
            spec:
              containers:
              - {name: app, image: python:3.11}
            """);

        var (code, output, errors) = Run("sidecar-config", "-f", pod, "--dataset", "models=s3://bucket/v2");

        Assert.True(code == 0, errors);
        var config = System.Text.Json.JsonSerializer.Deserialize(output.Trim(), Fluid.Serverless.Contracts.ContractsJsonContext.Default.SidecarConfig)!;
        var dataset = Assert.Single(config.Datasets);
        Assert.Equal(("models", "s3://bucket/v2"), (dataset.Name, dataset.Source));
    }

    private const string PodWithFluidClaimOnly = """
        apiVersion: v1
        kind: Pod
        metadata: {name: reader, namespace: ml}
        spec:
          containers:
          - name: app
            image: python:3.11
            volumeMounts: [{name: data, mountPath: /data}]
          volumes:
          - name: data
            persistentVolumeClaim: {claimName: imagenet}
        """;

    [Fact]
    public void Explain_PodWithFluidPvcButNoOptIn_NotInjectedAsTheInstalledWebhookDecides()
    {
        var (code, output, errors) = Run("explain", "-f", Write("pod.yaml", PodWithFluidClaimOnly), "--dataset", "imagenet=s3://imagenet-bucket/v1");

        Assert.True(code == 0, errors);
        Assert.Contains("What the webhook would do, with the injector's built-in defaults (InjectByDefault: false)", output, StringComparison.Ordinal);
        Assert.Contains("Pod/reader (namespace ml): not injected", output, StringComparison.Ordinal);
        Assert.Contains("decided by: GlobalConfig", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ExplainAndInject_InstalledConfigMap_ExplainFollowsItInjectStillInjectsWithItsImage()
    {
        var configMap = Path.Combine(RepositoryRoot(), "manifests", "base", "configmap.yaml");
        var pod = Write("pod.yaml", PodWithFluidClaimOnly);

        var explained = Run("explain", "-f", pod, "--dataset", "imagenet=s3://imagenet-bucket/v1", "--injector-config", configMap);
        var injected = Run("inject", "-f", pod, "--dataset", "imagenet=s3://imagenet-bucket/v1", "--injector-config", configMap);

        Assert.True(explained.Code == 0, explained.Errors);
        Assert.Contains($"with the injector config '{configMap}' (InjectByDefault: false)", explained.Output, StringComparison.Ordinal);
        Assert.Contains("Pod/reader (namespace ml): not injected", explained.Output, StringComparison.Ordinal);
        Assert.True(injected.Code == 0, injected.Errors);
        Assert.Contains("image: fluid-serverless/sidecar:0.1.0", injected.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_InjectorConfigWithBadValue_ExitCode2NamingFileAndSetting()
    {
        var config = Write("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  FLUID_INJECTOR_Injector__DefaultMode: turbo\n");

        var (code, _, errors) = Run("explain", "-f", Write("pod.yaml", PodWithFluidClaimOnly), "--injector-config", config);

        Assert.Equal(2, code);
        Assert.Contains($"injector config '{config}': invalid value 'turbo' for Injector:DefaultMode", errors, StringComparison.Ordinal);
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var directory = Path.GetDirectoryName(source);
        while (directory is not null && !File.Exists(Path.Combine(directory, "Fluid.Serverless.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException($"no Fluid.Serverless.sln above {source}");
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Code, string Output, string Errors) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var code = OfflineCommand.Run(args, TextReader.Null, output, errors);
        return (code, output.ToString(), errors.ToString());
    }
}
