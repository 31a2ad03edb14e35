using System.Text;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>Which key segments can appear as names on a POSIX file system.</summary>
internal static class EntryNames
{
    /// <summary>The longest entry name a POSIX file system takes, in bytes (NAME_MAX).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>
    /// Empty names (a "dir/" marker object), "." and "..", names with NUL and names longer than 255 UTF-8 bytes
    /// cannot be directory entries: they are not listed and not reachable through the volume (S3 endpoint only).
    /// </summary>
    public static bool IsVisible(string name) =>
        name.Length != 0
        && name != "."
        && name != ".."
        && !name.Contains('\0', StringComparison.Ordinal)
        && !name.Contains('/', StringComparison.Ordinal)
        && Encoding.UTF8.GetByteCount(name) <= MaxNameBytes;
}
