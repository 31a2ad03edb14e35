using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Tests.Policy;

/// <summary>The precedence table of injector/README.md, row by row: pod label &gt; pod annotation &gt; InjectionPolicy &gt;
/// namespace label &gt; global config, never-rules first.</summary>
public sealed class InjectionDeciderTests
{
    public static TheoryData<string, string?, string?, string?, string?, bool, bool, string> Table => new()
    {
        // case, pod label, pod annotation, policy inject, namespace label, global default → inject, source
        { "label true beats everything", "true", "false", "false", "disabled", false, true, nameof(DecisionSource.PodLabel) },
        { "label false beats everything", "false", "true", "true", "enabled", true, false, nameof(DecisionSource.PodLabel) },
        { "annotation true beats policy", null, "true", "false", "disabled", false, true, nameof(DecisionSource.PodAnnotation) },
        { "annotation false beats policy", null, "false", "true", "enabled", true, false, nameof(DecisionSource.PodAnnotation) },
        { "policy excludes despite namespace", null, null, "false", "enabled", true, false, nameof(DecisionSource.InjectionPolicy) },
        { "policy includes despite namespace", null, null, "true", "disabled", false, true, nameof(DecisionSource.InjectionPolicy) },
        { "namespace enabled beats global", null, null, null, "enabled", false, true, nameof(DecisionSource.NamespaceLabel) },
        { "namespace disabled beats global", null, null, null, "disabled", true, false, nameof(DecisionSource.NamespaceLabel) },
        { "global default on", null, null, null, null, true, true, nameof(DecisionSource.GlobalConfig) },
        { "global default off", null, null, null, null, false, false, nameof(DecisionSource.GlobalConfig) },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide_PrecedenceTable(string @case, string? label, string? annotation, string? policyInject, string? namespaceLabel, bool injectByDefault, bool expected, string source)
    {
        var cluster = new ClusterState();
        if (namespaceLabel is not null)
        {
            cluster.SetNamespace("team", new Dictionary<string, string> { ["serverless.fluid.io/injection"] = namespaceLabel });
        }

        if (policyInject is not null)
        {
            var policy = (JsonObject)JsonNode.Parse("""{"metadata":{"name":"p","namespace":"team"},"spec":{"podSelector":{"matchLabels":{"app":"x"}}}}""")!;
            policy["spec"]!["inject"] = policyInject == "true";
            cluster.SetPolicy(InjectionPolicy.FromJson(policy));
        }

        var pod = Pod(label, annotation);

        var decision = InjectionDecider.Decide(pod, "team", cluster, new InjectorOptions { InjectByDefault = injectByDefault });

        Assert.True(expected == decision.Inject, @case);
        Assert.Equal(source, decision.Source.ToString());
        Assert.Null(decision.Error);
    }

    [Theory]
    [InlineData("kube-system", false, "system namespace")]
    [InlineData("fluid-serverless-system", false, "injector's own namespace")]
    [InlineData("team", true, "hostNetwork")]
    public void Decide_NeverRules_BeatAnOptIn(string @namespace, bool hostNetwork, string reason)
    {
        var pod = Pod("true", null);
        if (hostNetwork)
        {
            pod["spec"]!["hostNetwork"] = true;
        }

        var decision = InjectionDecider.Decide(pod, @namespace, new ClusterState(), new InjectorOptions());

        Assert.False(decision.Inject);
        Assert.Equal(DecisionSource.NeverRule, decision.Source);
        Assert.Contains(reason, decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_PolicySelectorDoesNotMatch_FallsThroughToNamespace()
    {
        var cluster = new ClusterState();
        cluster.SetNamespace("team", new Dictionary<string, string> { ["serverless.fluid.io/injection"] = "enabled" });
        cluster.SetPolicy(InjectionPolicy.FromJson(JsonNode.Parse("""
            {"metadata":{"name":"p","namespace":"team"},"spec":{"podSelector":{"matchExpressions":[{"key":"app","operator":"NotIn","values":["x"]}]},"inject":false}}
            """)!));

        var decision = InjectionDecider.Decide(Pod(null, null), "team", cluster, new InjectorOptions());

        Assert.True(decision.Inject);
        Assert.Equal(DecisionSource.NamespaceLabel, decision.Source);
        Assert.Null(decision.Policy);
    }

    private static JsonObject Pod(string? label, string? annotation)
    {
        var labels = new JsonObject { ["app"] = "x" };
        if (label is not null)
        {
            labels["serverless.fluid.io/inject"] = label;
        }

        var annotations = new JsonObject();
        if (annotation is not null)
        {
            annotations["serverless.fluid.io/inject"] = annotation;
        }

        return new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "p", ["labels"] = labels, ["annotations"] = annotations },
            ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app" }) },
        };
    }
}
