using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Tests.Architecture;

namespace Fluid.Serverless.Sidecar.Tests.Architecture;

/// <summary>
/// The sidecar's folders depend on each other one way only. The table below is the layer picture of
/// docs/ARCHITECTURE.md ("Layers"): a folder may use the folders listed for it and nothing else. A new dependency
/// that is not in the table fails here, with the types that make it.
/// </summary>
public sealed class LayeringTests
{
    private const string Root = "Fluid.Serverless.Sidecar";

    /// <summary>Each folder and the folders it may use (lowest layers first). Keep in step with docs/ARCHITECTURE.md.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Metrics"] = [],
        ["Sources"] = [],
        ["Resilience"] = ["Sources"],
        ["Datasets"] = ["Sources"],
        ["Cache"] = ["Sources", "Resilience", "Datasets", "Metrics"],
        ["SourceChain"] = ["Sources", "Resilience", "Cache"],
        ["Prefetch"] = ["Sources", "Datasets", "Cache", "SourceChain", "Metrics"],
        ["Volume"] = ["Sources", "Datasets", "Cache"],
        ["S3Api"] = ["Sources", "Resilience", "Datasets", "Cache", "Metrics"],
        ["Configuration"] = ["Sources", "Datasets", "SourceChain", "Prefetch", "Metrics"],
        ["Admin"] = ["Sources", "Datasets", "Cache", "Prefetch", "Volume", "Configuration", "Metrics"],
        ["Hosting"] = ["Metrics", "Sources", "Resilience", "Datasets", "Cache", "SourceChain", "Prefetch", "Volume", "S3Api", "Configuration", "Admin"],
        [""] = ["Hosting"],
    };

    private static readonly IReadOnlyList<(string From, string To, string User, string Used)> Uses =
        NamespaceDependencies.Of(typeof(SidecarHostingExtensions).Assembly, Root, TopFolder);

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
    public void VolumeViews_FuseAndCopy_DoNotUseEachOther()
    {
        var uses = NamespaceDependencies.Of(typeof(SidecarHostingExtensions).Assembly, Root, static ns => ns);
        var crossing = uses
            .Where(use => (use.From.StartsWith("Volume.Fuse", StringComparison.Ordinal) && use.To.StartsWith("Volume.Copy", StringComparison.Ordinal))
                || (use.From.StartsWith("Volume.Copy", StringComparison.Ordinal) && use.To.StartsWith("Volume.Fuse", StringComparison.Ordinal)))
            .Select(use => $"{use.User} uses {use.Used}")
            .ToList();

        Assert.True(crossing.Count == 0, "the FUSE and copy views share only what is in Volume/:\n" + string.Join("\n", crossing));
    }

    [Fact]
    public void Check_SourcesUsingHosting_IsReported()
    {
        var forbidden = Violations([("Sources", "Hosting", "Fluid.Serverless.Sidecar.Sources.X", "Fluid.Serverless.Sidecar.Hosting.Y")]);

        Assert.Equal(["Sources -> Hosting: Fluid.Serverless.Sidecar.Sources.X uses Fluid.Serverless.Sidecar.Hosting.Y"], forbidden);
    }

    [Fact]
    public void Scan_SeesUsesInMethodBodies()
    {
        // The composition root names the S3 handler only inside method bodies (service factories).
        Assert.Contains(Uses, use => use.From == "Hosting" && use.To == "S3Api" && use.Used.EndsWith(".S3RequestHandler", StringComparison.Ordinal));
    }

    private static List<string> Violations(IEnumerable<(string From, string To, string User, string Used)> uses) =>
        [.. uses
            .Where(use => !Allowed.TryGetValue(use.From, out var allowed) || !allowed.Contains(use.To))
            .Select(use => $"{Name(use.From)} -> {Name(use.To)}: {use.User} uses {use.Used}")];

    private static string TopFolder(string ns) => ns.Split('.')[0];

    private static string Name(string folder) => folder.Length == 0 ? "(root)" : folder;
}
