namespace Fluid.Serverless.Injector.Mutation;

/// <summary>Hands out names that do not collide with the pod's own: a user volume called "fluid-serverless-cache"
/// makes ours "fluid-serverless-cache-2" instead of failing the pod.</summary>
internal sealed class NameAllocator(IEnumerable<string> taken)
{
    private readonly HashSet<string> _taken = new(taken, StringComparer.Ordinal);

    public string Allocate(string preferred)
    {
        var candidate = Truncate(preferred, 0);
        for (var suffix = 2; !_taken.Add(candidate); suffix++)
        {
            candidate = Truncate(preferred, suffix);
        }

        return candidate;
    }

    /// <summary>Kubernetes names are DNS labels: at most 63 characters, the suffix included.</summary>
    private static string Truncate(string name, int suffix)
    {
        var tail = suffix == 0 ? "" : "-" + suffix.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var room = 63 - tail.Length;
        return (name.Length > room ? name[..room].TrimEnd('-') : name) + tail;
    }
}
