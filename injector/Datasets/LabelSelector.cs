using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>A Kubernetes label selector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist). Empty matches everything.</summary>
internal sealed record LabelSelector(IReadOnlyDictionary<string, string> MatchLabels, IReadOnlyList<LabelSelectorRequirement> Expressions)
{
    public static readonly LabelSelector Everything = new(new Dictionary<string, string>(), []);

    public static LabelSelector FromJson(JsonObject? selector)
    {
        if (selector is null)
        {
            return Everything;
        }

        var expressions = selector.Arr("matchExpressions").Objects()
            .Select(e => new LabelSelectorRequirement(
                e.Str("key") ?? "",
                e.Str("operator") ?? "",
                [.. (e.Arr("values") ?? []).Select(v => v?.ToString() ?? "")]))
            .ToList();
        return new LabelSelector(selector.StringMap("matchLabels"), expressions);
    }

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in MatchLabels)
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }

        foreach (var requirement in Expressions)
        {
            if (!requirement.Matches(labels))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed record LabelSelectorRequirement(string Key, string Operator, IReadOnlyList<string> Values)
{
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        var present = labels.TryGetValue(Key, out var value);
        return Operator switch
        {
            "In" => present && Values.Contains(value!),
            "NotIn" => !present || !Values.Contains(value!),
            "Exists" => present,
            "DoesNotExist" => !present,
            _ => false, // an unknown operator selects nothing rather than everything
        };
    }
}
