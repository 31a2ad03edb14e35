using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>Prints findings as istioctl analyze does (<c>Error [FS0101] (Kind ns/name) message</c>, then the fix and
/// the pods), or as JSON for CI.</summary>
internal static class FindingFormatter
{
    public static string Text(IReadOnlyList<Finding> findings, string scope)
    {
        if (findings.Count == 0)
        {
            return $"No issues found when analyzing {scope}.\n";
        }

        var text = new StringBuilder();
        foreach (var finding in findings)
        {
            text.Append(finding.Severity).Append(" [").Append(finding.Code).Append("] (").Append(finding.Object).Append(") ").Append(finding.Message).Append('\n');
            if (finding.Pods.Count > 0 && finding.Object.Kind != "Pod")
            {
                text.Append("  pods: ").Append(string.Join(", ", finding.Pods)).Append('\n');
            }

            text.Append("  fix: ").Append(finding.Fix).Append('\n');
        }

        var errors = findings.Count(f => f.Severity == Severity.Error);
        var warnings = findings.Count(f => f.Severity == Severity.Warning);
        text.Append($"{errors} error{(errors == 1 ? "" : "s")}, {warnings} warning{(warnings == 1 ? "" : "s")} when analyzing {scope}.\n");
        return text.ToString();
    }

    /// <summary>A JSON array of {code, severity, object: {kind, namespace, name}, message, fix, pods}.</summary>
    public static string Json(IReadOnlyList<Finding> findings) =>
        findings.Select(f => new JsonObject
        {
            ["code"] = f.Code,
            ["severity"] = f.Severity.ToString(),
            ["object"] = new JsonObject { ["kind"] = f.Object.Kind, ["namespace"] = f.Object.Namespace, ["name"] = f.Object.Name },
            ["message"] = f.Message,
            ["fix"] = f.Fix,
            ["pods"] = f.Pods.ToJsonArray(),
        }).Aggregate(new JsonArray(), (array, item) =>
        {
            array.Add(item);
            return array;
        }).ToJsonString(Indented) + "\n";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
