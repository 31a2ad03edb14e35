namespace Fluid.Serverless.Tests.Architecture;

/// <summary>Checks an allowed-dependency table for cycles: a layer picture has to read one way.</summary>
internal static class LayerTable
{
    /// <summary>Each cycle found, as "A -> B -> A"; empty when the table is one-way.</summary>
    public static IReadOnlyList<string> Cycles(IReadOnlyDictionary<string, string[]> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        var cycles = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var path = new List<string>();

        void Visit(string folder)
        {
            var at = path.IndexOf(folder);
            if (at >= 0)
            {
                cycles.Add(string.Join(" -> ", path.Skip(at).Append(folder)));
                return;
            }

            if (!done.Add(folder))
            {
                return;
            }

            path.Add(folder);
            foreach (var next in allowed.TryGetValue(folder, out var targets) ? targets : [])
            {
                Visit(next);
            }

            path.RemoveAt(path.Count - 1);
        }

        foreach (var folder in allowed.Keys)
        {
            Visit(folder);
        }

        return cycles;
    }
}
