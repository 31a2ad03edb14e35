using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Fluid.Serverless.Tests.Metrics;

/// <summary>
/// The metric names the Grafana dashboard's PromQL asks for, and the series names a Prometheus text exposition
/// offers. Shared (linked) by the sidecar and injector tests: each checks the names of its own process.
/// </summary>
internal static partial class DashboardQueries
{
    public const string RelativePath = "manifests/overlays/monitoring/dashboards/fluid-serverless.json";

    /// <summary>Every metric name (fluid_*) in the dashboard's panel targets and template variable queries.</summary>
    public static IReadOnlySet<string> MetricNames()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), RelativePath)))!;
        var expressions = new List<string>();
        foreach (var panel in dashboard["panels"]!.AsArray())
        {
            foreach (var target in panel!["targets"]!.AsArray())
            {
                expressions.Add((string)target!["expr"]!);
            }
        }

        foreach (var variable in dashboard["templating"]!["list"]!.AsArray())
        {
            if (variable!["type"]?.GetValue<string>() == "query")
            {
                expressions.Add((string)variable["query"]!);
            }
        }

        // Label names and values are inside {…} or by/without (…); metric names in these queries all start fluid_.
        return expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The series names a /metrics text offers, from its TYPE lines (so an instrument counts even before its first
    /// sample): the name itself, and for a histogram its _bucket, _sum and _count series.
    /// </summary>
    public static IReadOnlySet<string> ExportedSeries(string exposition)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match type in TypeLine().Matches(exposition))
        {
            var name = type.Groups["name"].Value;
            names.Add(name);
            if (type.Groups["type"].Value == "histogram")
            {
                names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
            }
        }

        return names;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Fluid.Serverless.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Fluid.Serverless.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\bfluid_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
