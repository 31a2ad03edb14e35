using System.Security.Cryptography;
using System.Text;

namespace Fluid.Serverless.Contracts;

/// <summary>
/// A short identity of a prefetch list: the sidecar tags each prefetch job's metrics with the identity of its entries
/// (<c>plan</c>), and whoever wrote that list into a sidecar config (the DataLoad controller) finds the job that warms
/// it on the pod's read-only <c>/metrics</c> by computing the same identity, with no other link between the two.
/// </summary>
public static class PrefetchPlans
{
    /// <summary>The first 12 hex digits of SHA-256 over the entries, in order, one per line.</summary>
    public static string IdOf(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', entries)));
        return Convert.ToHexStringLower(digest.AsSpan(0, 6));
    }
}
