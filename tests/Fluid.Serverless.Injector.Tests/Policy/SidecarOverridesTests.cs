using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Microsoft.Extensions.Configuration;

namespace Fluid.Serverless.Injector.Tests.Policy;

/// <summary>Per-pod sidecar overrides (serverless.fluid.io/sidecar-image, sidecar-log-level, sidecar-env and the same
/// InjectionPolicy fields): what reaches the sidecar container, and the denial for each bad value.</summary>
public sealed class SidecarOverridesTests
{
    private static readonly InjectorOptions AllowTeamImages = new()
    {
        SidecarImage = "registry.example.com/fluid/sidecar:1.0",
        AllowedSidecarImages = ["registry.example.com/fluid/sidecar", "registry.example.com/team/"],
    };

    private static ClusterState Cluster(string extra = "")
    {
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: default}
            spec:
              mounts: [{mountPoint: "s3://imagenet-bucket"}]
            """ + extra);
        return cluster;
    }

    private static JsonObject Pod(string annotations, string labels = "serverless.fluid.io/inject: \"true\"") => (JsonObject)YamlJson.ParseDocuments($$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: train
          labels: { {{labels}} }
          annotations: { serverless.fluid.io/datasets: imagenet, {{annotations}} }
        spec:
          containers: [{name: app, image: python}]
        """).Single()!;

    private static InjectionOutcome Inject(string annotations, InjectorOptions? options = null, ClusterState? cluster = null, string? labels = null) =>
        new PodInjector(cluster ?? Cluster(), options ?? AllowTeamImages).Inject(labels is null ? Pod(annotations) : Pod(annotations, labels), "default");

    private static JsonObject Sidecar(InjectionOutcome outcome) =>
        outcome.Pod!.Obj("spec").Arr("initContainers").Objects().Single(c => c.Str("name") == SidecarContainerMutator.PreferredName);

    /// <summary>The sidecar's env without the injector's own FLUID_* variables.</summary>
    private static List<(string?, string?)> OverrideEnv(InjectionOutcome outcome) =>
        [.. Sidecar(outcome).Arr("env").Objects().Where(e => e.Str("name")?.StartsWith("FLUID_", StringComparison.Ordinal) == false).Select(e => (e.Str("name"), e.Str("value")))];

    private static JsonObject Status(InjectionOutcome outcome) =>
        (JsonObject)JsonNode.Parse(outcome.Pod!.Obj("metadata").StringMap("annotations")[Annotations.Status])!;

    [Theory]
    [InlineData("registry.example.com/fluid/sidecar:1.1-debug")]
    [InlineData("registry.example.com/fluid/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("registry.example.com/team/own-sidecar:7")]
    public void Image_FromAllowList_IsTheSidecarsAndRecorded(string image)
    {
        var outcome = Inject($"serverless.fluid.io/sidecar-image: \"{image}\"");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        Assert.Equal(image, Sidecar(outcome).Str("image"));
        Assert.Equal(image, Status(outcome).Str("image"));
    }

    [Fact]
    public void Image_WithoutOverride_IsTheInjectorsAndStatusRecordsImageAndTemplate()
    {
        var outcome = Inject("serverless.fluid.io/mode: s3");

        Assert.Equal("registry.example.com/fluid/sidecar:1.0", Sidecar(outcome).Str("image"));
        Assert.Equal("registry.example.com/fluid/sidecar:1.0", Status(outcome).Str("image"));
        Assert.Equal(SidecarTemplate.Hash(AllowTeamImages), Status(outcome).Str("template"));
        Assert.Matches("^[0-9a-f]{16}$", Status(outcome).Str("template"));
    }

    [Fact]
    public void TemplateHash_ChangesWithTheSidecarsShape_NotWithTheImage()
    {
        var hash = SidecarTemplate.Hash(AllowTeamImages);

        Assert.Equal(hash, SidecarTemplate.Hash(AllowTeamImages with { SidecarImage = "other/image:2", DefaultCacheSize = "1Gi" }));
        Assert.NotEqual(hash, SidecarTemplate.Hash(AllowTeamImages with { SidecarArgs = ["--verbose"] }));
        Assert.NotEqual(hash, SidecarTemplate.Hash(AllowTeamImages with { AdminPort = 18481 }));
        Assert.NotEqual(hash, SidecarTemplate.Hash(AllowTeamImages with { SidecarImagePullPolicy = "Always" }));
    }

    [Theory]
    [InlineData("registry.example.com/fluid/sidecar-evil:1")] // a repository that only starts like an allowed one
    [InlineData("docker.io/attacker/sidecar:1")]
    [InlineData("registry.example.com/team/")] // the prefix itself names no image
    public void Image_OutsideAllowList_IsDeniedNamingAnnotationAndList(string image)
    {
        var outcome = Inject($"serverless.fluid.io/sidecar-image: \"{image}\"");

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Equal(
            $"invalid value '{image}' for annotation 'serverless.fluid.io/sidecar-image': expected an image from the injector's allow-list "
            + "(Injector:AllowedSidecarImages): 'registry.example.com/fluid/sidecar', 'registry.example.com/team/'",
            outcome.Reason);
    }

    [Fact]
    public void Image_WithEmptyAllowList_IsDeniedAsNotAllowed()
    {
        var outcome = Inject("serverless.fluid.io/sidecar-image: registry.example.com/fluid/sidecar:2", new InjectorOptions());

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Equal("annotation 'serverless.fluid.io/sidecar-image' is not allowed: the injector configuration permits no sidecar image override "
            + "(Injector:AllowedSidecarImages is empty)", outcome.Reason);
    }

    [Fact]
    public void LogLevelAndEnv_ReachTheSidecarOnly_InTheirOrder()
    {
        var outcome = Inject("""serverless.fluid.io/sidecar-log-level: debug, serverless.fluid.io/sidecar-env: '{"DOTNET_gcServer": "0", "HTTPS_PROXY": "http://proxy:3128,x"}'""");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        Assert.Equal([("Logging__LogLevel__Default", "Debug"), ("DOTNET_gcServer", "0"), ("HTTPS_PROXY", "http://proxy:3128,x")], OverrideEnv(outcome));
        var app = outcome.Pod!.Obj("spec").Arr("containers").Objects().Single();
        Assert.DoesNotContain(app.Arr("env").Objects(), e => e.Str("name") is "DOTNET_gcServer" or "Logging__LogLevel__Default");
    }

    [Theory]
    [InlineData("serverless.fluid.io/sidecar-log-level: verbose",
        "invalid value 'verbose' for annotation 'serverless.fluid.io/sidecar-log-level': expected one of 'trace', 'debug', 'information', 'warning', 'error', 'critical'")]
    [InlineData("serverless.fluid.io/sidecar-env: 'A=1,B=2'",
        "invalid value 'A=1,B=2' for annotation 'serverless.fluid.io/sidecar-env': expected a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}")]
    [InlineData("serverless.fluid.io/sidecar-env: '{\"N\": 1}'",
        "invalid value '{\"N\": 1}' for annotation 'serverless.fluid.io/sidecar-env': expected a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}; the value of 'N' is not a string")]
    [InlineData("serverless.fluid.io/sidecar-env: '{\"1X\": \"a\"}'",
        "invalid value '{\"1X\": \"a\"}' for annotation 'serverless.fluid.io/sidecar-env': expected a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}; '1X' is not a variable name (letters, digits and '_', not starting with a digit)")]
    [InlineData("serverless.fluid.io/sidecar-env: '{\"FLUID_SIDECAR_ANNOTATIONS_FILE\": \"/tmp/x\"}'",
        "invalid value '{\"FLUID_SIDECAR_ANNOTATIONS_FILE\": \"/tmp/x\"}' for annotation 'serverless.fluid.io/sidecar-env': expected a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}; 'FLUID_SIDECAR_ANNOTATIONS_FILE' is set by the injector itself (names starting with FLUID_ or Logging__ are reserved; use serverless.fluid.io/sidecar-log-level for the log level)")]
    [InlineData("serverless.fluid.io/sidecar-env: '{\"logging__LogLevel__Default\": \"Trace\"}'",
        "invalid value '{\"logging__LogLevel__Default\": \"Trace\"}' for annotation 'serverless.fluid.io/sidecar-env': expected a JSON object of strings, e.g. {\"DOTNET_gcServer\": \"0\"}; 'logging__LogLevel__Default' is set by the injector itself (names starting with FLUID_ or Logging__ are reserved; use serverless.fluid.io/sidecar-log-level for the log level)")]
    public void BadOverride_IsDeniedWithTheReason(string annotation, string reason)
    {
        var outcome = Inject(annotation);

        Assert.Equal(InjectionOutcomeKind.Denied, outcome.Kind);
        Assert.Equal(reason, outcome.Reason);
    }

    [Fact]
    public void PolicyFields_ApplyToThePodsItSelects_AndDenialsNameThePolicy()
    {
        const string Policy = """

            ---
            apiVersion: serverless.fluid.io/v1alpha1
            kind: InjectionPolicy
            metadata: {name: team, namespace: default}
            spec:
              podSelector: {matchLabels: {team: a}}
              sidecarImage: registry.example.com/team/sidecar:9
              sidecarLogLevel: warning
              sidecarEnv: {TZ: UTC}
            """;
        var cluster = Cluster(Policy);

        var outcome = Inject("serverless.fluid.io/mode: s3", cluster: cluster, labels: "team: a");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        Assert.Equal("registry.example.com/team/sidecar:9", Sidecar(outcome).Str("image"));
        Assert.Equal([("Logging__LogLevel__Default", "Warning"), ("TZ", "UTC")], OverrideEnv(outcome));

        // the pod's annotation wins over the policy
        var pinned = Inject("serverless.fluid.io/sidecar-log-level: error", cluster: cluster, labels: "team: a");
        Assert.Equal([("Logging__LogLevel__Default", "Error"), ("TZ", "UTC")], OverrideEnv(pinned));

        var denied = Inject("serverless.fluid.io/mode: s3", new InjectorOptions(), cluster, labels: "team: a");
        Assert.Equal(InjectionOutcomeKind.Denied, denied.Kind);
        Assert.Equal("annotation 'serverless.fluid.io/sidecar-image' is not allowed: the injector configuration permits no sidecar image override "
            + "(Injector:AllowedSidecarImages is empty) (set by InjectionPolicy 'default/team')", denied.Reason);
    }

    [Theory]
    [InlineData("registry.example.com")] // a bare host would allow every repository on it
    [InlineData("registry.example.com/fluid/sidecar:1.0")]
    [InlineData("registry.example.com/fluid/sidecar@sha256:00")]
    [InlineData("registry.example.com/ fluid/")]
    public void AllowList_WithAnEntryThatIsNoRepository_StopsTheInjectorAtStart(string entry)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Injector:AllowedSidecarImages:0"] = entry }).Build();

        var error = Assert.Throws<InvalidOperationException>(() => InjectorOptionsReader.Read(configuration.GetSection("Injector")));

        Assert.StartsWith($"invalid value '{entry}' for Injector:AllowedSidecarImages: expected image repositories", error.Message);
    }

    [Fact]
    public void AllowList_FromConfiguration_IsRead()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Injector:AllowedSidecarImages:0"] = "registry.example.com/fluid/sidecar",
            ["Injector:AllowedSidecarImages:1"] = "registry.example.com:5000/team/",
        }).Build();

        var options = InjectorOptionsReader.Read(configuration.GetSection("Injector"));

        Assert.Equal(["registry.example.com/fluid/sidecar", "registry.example.com:5000/team/"], options.AllowedSidecarImages);
    }
}
