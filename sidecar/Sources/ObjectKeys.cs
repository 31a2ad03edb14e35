namespace Fluid.Serverless.Sidecar.Sources;

internal static class ObjectKeys
{
    /// <summary>
    /// True when <paramref name="key"/> is a relative path that cannot climb out of where it is resolved: no leading
    /// "/", no empty, "." or ".." segment, no NUL. Sources that map keys to paths or URLs (local, HTTP, WebHDFS) use it;
    /// S3 keys are opaque to S3 and need no such check.
    /// </summary>
    public static bool IsSafeRelativeKey(string key)
    {
        if (string.IsNullOrEmpty(key) || key[0] == '/' || key.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The key as a URL path: each segment percent-encoded, slashes kept.</summary>
    public static string EscapePath(string key)
    {
        var segments = key.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            segments[i] = Uri.EscapeDataString(segments[i]);
        }

        return string.Join('/', segments);
    }
}
