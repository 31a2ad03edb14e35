using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Tests.Mutation;

/// <summary>Dataset options that become volumes of the pod, through the whole injection: accepted paths inject,
/// the others are denied with a message naming the option and the path.</summary>
public sealed class SourceVolumeGuardTests
{
    private static InjectionOutcome Inject(string mountPoint, string optionName, string optionValue, params string[] allowedHostPaths)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, $$"""
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: data, namespace: team}
            spec:
              mounts:
              - mountPoint: "{{mountPoint}}"
                options: {"{{optionName}}": "{{optionValue}}"}
            """);
        var pod = (JsonObject)JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"serverless.fluid.io/inject":"true"},
             "annotations":{"serverless.fluid.io/datasets":"data:/data","serverless.fluid.io/mode":"copy"}},
             "spec":{"containers":[{"name":"app","image":"python"}]}}
            """)!;
        return new PodInjector(cluster, new InjectorOptions { AllowedHostPaths = allowedHostPaths }).Inject(pod, "team");
    }

    [Theory]
    [InlineData("/var", "'/var/run/secrets'")]
    [InlineData("/", "'/app'")]
    [InlineData("/etc/ssl", "'/etc'")]
    [InlineData("/var/cache/fluid-serverless", "'/var/cache/fluid-serverless'")]
    [InlineData("/run/fluid-serverless", "'/run/fluid-serverless/datasets'")]
    public void NfsLocalPath_AtUnderOrAboveReservedDirectory_DeniedNamingIt(string localPath, string reserved)
    {
        var outcome = Inject("nfs://nas.example.com/exports/data", "localPath", localPath);

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Contains($"option 'localPath' '{localPath}' would mount a volume over {reserved} in the sidecar", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NfsLocalPath_WithDotDot_DeniedAsNotClean()
    {
        var outcome = Inject("nfs://nas.example.com/exports/data", "localPath", "/mnt/../etc");

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Contains("option 'localPath' '/mnt/../etc' is not a clean absolute path", outcome.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/mnt/nas")]
    [InlineData("/fluid-serverless/nfs/custom")]
    public void NfsLocalPath_OutsideReservedDirectories_Injected(string localPath)
    {
        var outcome = Inject("nfs://nas.example.com/exports/data", "localPath", localPath);

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        var sidecar = outcome.Pod!["spec"]!["initContainers"]![0]!;
        Assert.Contains(sidecar["volumeMounts"]!.AsArray(), m => m!["mountPath"]!.GetValue<string>() == localPath);
    }

    [Theory]
    [InlineData("/mnt/lustre2/x", "allows only directories under /mnt/lustre")]
    [InlineData("/mnt/lustre/../../etc", "allows only directories under /mnt/lustre")]
    [InlineData("/var/lib/kubelet", "allows only directories under /mnt/lustre")]
    public void HostPath_OutsideAllowList_DeniedNamingOptionAndList(string hostPath, string list)
    {
        var outcome = Inject("local:///mnt/data", "hostPath", hostPath, "/mnt/lustre");

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Contains($"option 'hostPath' '{hostPath}' is not allowed: the injector's hostPath allow-list (Injector:AllowedHostPaths) {list}", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void HostPath_DefaultOptions_DeniedBecauseTheListIsEmpty()
    {
        var outcome = Inject("local:///mnt/data", "hostPath", "/mnt/lustre/imagenet");

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Contains("allow-list (Injector:AllowedHostPaths) is empty", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void HostPath_UnderAllowedDirectory_InjectedAsHostPathVolume()
    {
        var outcome = Inject("local:///mnt/data", "hostPath", "/mnt/lustre/imagenet", "/mnt/lustre");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        Assert.Contains(outcome.Pod!["spec"]!["volumes"]!.AsArray(), v => v!["hostPath"]?["path"]?.GetValue<string>() == "/mnt/lustre/imagenet");
    }

    [Fact]
    public void LocalClaimVolume_PathOverServiceAccountToken_Denied()
    {
        var outcome = Inject("local:///var/run/secrets/kubernetes.io/serviceaccount", "claimName", "tokens");

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Contains("would mount a volume over '/var/run/secrets' in the sidecar", outcome.Reason, StringComparison.Ordinal);
    }
}
