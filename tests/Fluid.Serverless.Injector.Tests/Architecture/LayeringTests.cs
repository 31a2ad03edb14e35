using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Tests.Architecture;

namespace Fluid.Serverless.Injector.Tests.Architecture;

/// <summary>
/// The injector's folders depend on each other one way only. The table below is the layer picture of
/// docs/ARCHITECTURE.md ("Layers"): a folder may use the folders listed for it and nothing else. A new dependency
/// that is not in the table fails here, with the types that make it.
/// </summary>
public sealed class LayeringTests
{
    private const string Root = "Fluid.Serverless.Injector";

    /// <summary>Each folder and the folders it may use (lowest layers first). Keep in step with docs/ARCHITECTURE.md.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Json"] = [],
        ["Settings"] = [],
        ["Datasets"] = ["Json"],
        ["Policy"] = ["Json", "Datasets"],
        ["Kubernetes"] = ["Json", "Settings", "Datasets"],
        ["Certificates"] = ["Json", "Settings", "Policy"],
        ["Mutation"] = ["Json", "Datasets", "Policy"],
        ["Admission"] = ["Json", "Datasets", "Policy", "Mutation"],
        ["Offline"] = ["Json", "Datasets", "Policy", "Mutation", "Kubernetes"],
        ["Analysis"] = ["Json", "Datasets", "Policy", "Mutation", "Kubernetes"],
        ["Controller"] = ["Json", "Datasets", "Policy", "Mutation"],
        ["Hosting"] = ["Json", "Settings", "Datasets", "Policy", "Kubernetes", "Certificates", "Mutation", "Admission", "Offline", "Controller"],
        [""] = ["Hosting", "Offline", "Analysis"],
    };

    private static readonly IReadOnlyList<(string From, string To, string User, string Used)> Uses =
        NamespaceDependencies.Of(typeof(InjectorHost).Assembly, Root, static ns => ns.Split('.')[0]);

    [Fact]
    public void EveryFolderDependency_IsInTheLayerTable()
    {
        var forbidden = Violations(Uses);

        Assert.True(forbidden.Count == 0, "dependencies outside the layer table:\n" + string.Join("\n", forbidden));
    }

    [Fact]
    public void LayerTable_HasNoCycle()
    {
        Assert.Empty(LayerTable.Cycles(Allowed));
    }

    [Fact]
    public void Check_DatasetsUsingPolicy_IsReported()
    {
        var forbidden = Violations([("Datasets", "Policy", "Fluid.Serverless.Injector.Datasets.X", "Fluid.Serverless.Injector.Policy.Y")]);

        Assert.Equal(["Datasets -> Policy: Fluid.Serverless.Injector.Datasets.X uses Fluid.Serverless.Injector.Policy.Y"], forbidden);
    }

    private static List<string> Violations(IEnumerable<(string From, string To, string User, string Used)> uses) =>
        [.. uses
            .Where(use => !Allowed.TryGetValue(use.From, out var allowed) || !allowed.Contains(use.To))
            .Select(use => $"{(use.From.Length == 0 ? "(root)" : use.From)} -> {use.To}: {use.User} uses {use.Used}")];
}
