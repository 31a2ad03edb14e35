namespace Fluid.Serverless.Injector.Analysis;

/// <summary>One check of a cluster snapshot. Analyzers read only the snapshot (no API calls), so each is testable
/// alone and a run sees one consistent picture.</summary>
internal interface IAnalyzer
{
    IEnumerable<Finding> Analyze(ClusterSnapshot snapshot);
}
