namespace Fluid.Serverless.Injector.Analysis;

/// <summary>Runs every analyzer on one snapshot; findings come out errors first, then by code and object, so the
/// output of the same cluster is the same every time.</summary>
internal static class AnalysisRunner
{
    public static IReadOnlyList<IAnalyzer> Analyzers { get; } =
    [
        new WebhookCaBundleAnalyzer(),
        new WebhookEndpointsAnalyzer(),
        new NotInjectedPodAnalyzer(),
        new OutdatedSidecarAnalyzer(),
        new MissingDatasetAnalyzer(),
        new MissingSecretAnalyzer(),
        new PodSecurityModeAnalyzer(),
        new PolicyConflictAnalyzer(),
    ];

    public static IReadOnlyList<Finding> Run(ClusterSnapshot snapshot, IReadOnlyList<IAnalyzer>? analyzers = null) =>
        [.. (analyzers ?? Analyzers).SelectMany(a => a.Analyze(snapshot))
            .OrderBy(f => f.Severity)
            .ThenBy(f => f.Code, StringComparer.Ordinal)
            .ThenBy(f => f.Object.Namespace, StringComparer.Ordinal)
            .ThenBy(f => f.Object.Kind, StringComparer.Ordinal)
            .ThenBy(f => f.Object.Name, StringComparer.Ordinal)
            .ThenBy(f => f.Message, StringComparer.Ordinal)];
}
