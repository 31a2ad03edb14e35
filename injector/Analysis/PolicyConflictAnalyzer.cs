using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Two InjectionPolicies of a namespace that select the same pods with different settings. Only the first by name
/// applies to a pod, so the other's settings are silently ignored for those pods. Selectors overlap when a running
/// pod matches both, or when both are plain matchLabels that agree on every key they share (an empty selector
/// selects everything); expression selectors that no running pod shares are not guessed at.
/// </summary>
internal sealed class PolicyConflictAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var namespaces = snapshot.State.Keys("InjectionPolicy").Select(k => k.Namespace).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var @namespace in namespaces)
        {
            var policies = snapshot.State.Policies(@namespace);
            var pods = snapshot.LivePods().Where(p => ClusterSnapshot.NamespaceOf(p) == @namespace).ToList();
            for (var i = 0; i < policies.Count; i++)
            {
                for (var j = i + 1; j < policies.Count; j++)
                {
                    var (first, second) = (policies[i], policies[j]);
                    var differences = Differences(first, second);
                    if (differences.Count == 0 || Overlap(first, second, pods) is not { } overlap)
                    {
                        continue;
                    }

                    yield return new Finding(FindingCodes.PolicyConflict, Severity.Warning, new ObjectRef("InjectionPolicy", @namespace, second.Name),
                        $"selects the same pods as InjectionPolicy {@namespace}/{first.Name} ({overlap}) with different settings: {string.Join("; ", differences)}; "
                        + $"'{first.Name}' applies to those pods (the first by name) and this policy is ignored for them",
                        "make the podSelectors disjoint, or merge the two policies into one");
                }
            }
        }
    }

    private static List<string> Differences(InjectionPolicy first, InjectionPolicy second)
    {
        var differences = new List<string>();
        if (first.Inject != second.Inject)
        {
            differences.Add($"inject {Bool(first.Inject)} vs {Bool(second.Inject)}");
        }

        foreach (var key in first.Defaults.Keys.Intersect(second.Defaults.Keys).Order(StringComparer.Ordinal))
        {
            if (first.Defaults[key] != second.Defaults[key])
            {
                differences.Add($"{key[Annotations.Prefix.Length..]} '{first.Defaults[key]}' vs '{second.Defaults[key]}'");
            }
        }

        return differences;
    }

    private static string Bool(bool value) => value ? "true" : "false";

    /// <summary>How the two selectors are known to overlap, or null.</summary>
    private static string? Overlap(InjectionPolicy first, InjectionPolicy second, List<System.Text.Json.Nodes.JsonObject> pods)
    {
        var shared = pods.Where(p => first.Selector.Matches(p.Obj("metadata").StringMap("labels")) && second.Selector.Matches(p.Obj("metadata").StringMap("labels")))
            .Select(ClusterSnapshot.NameOf).Order(StringComparer.Ordinal).ToList();
        if (shared.Count > 0)
        {
            return $"e.g. pod {shared[0]}{(shared.Count > 1 ? $" and {shared.Count - 1} more" : "")}";
        }

        if (first.Selector.Expressions.Count > 0 || second.Selector.Expressions.Count > 0)
        {
            return null;
        }

        var conflicting = first.Selector.MatchLabels.Any(l => second.Selector.MatchLabels.TryGetValue(l.Key, out var value) && value != l.Value);
        if (conflicting)
        {
            return null;
        }

        var union = first.Selector.MatchLabels.Concat(second.Selector.MatchLabels).DistinctBy(l => l.Key).OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
        return union.Count == 0 ? "both select every pod" : "a pod labelled " + string.Join(",", union.Select(l => $"{l.Key}={l.Value}")) + " matches both";
    }
}
