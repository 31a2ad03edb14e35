namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// A glob over object keys: <c>*</c> and <c>?</c> match within one path segment, a <c>**</c> segment matches zero or
/// more whole segments (<c>train/**/*.jpg</c> matches <c>train/a.jpg</c> and <c>train/x/y/a.jpg</c>).
/// Matching is two-level greedy backtracking (segments, then characters), linear in practice, with no regex engine
/// (Native AOT would run a regex interpreted) and no allocation beyond splitting the key.
/// </summary>
internal sealed class GlobPattern
{
    private const string AnySegments = "**";
    private readonly string[] _segments;

    private GlobPattern(string pattern, string[] segments, string literalPrefix)
    {
        Pattern = pattern;
        _segments = segments;
        LiteralPrefix = literalPrefix;
    }

    public string Pattern { get; }

    /// <summary>The text before the first wildcard: only keys under it can match, so only it is listed.</summary>
    public string LiteralPrefix { get; }

    public static bool IsGlob(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    public static GlobPattern Compile(string pattern)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var firstWildcard = pattern.AsSpan().IndexOfAny('*', '?');
        var literalPrefix = firstWildcard < 0 ? pattern : pattern[..firstWildcard];
        return new GlobPattern(pattern, pattern.Split('/'), literalPrefix);
    }

    public bool IsMatch(string key)
    {
        if (!key.StartsWith(LiteralPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var keySegments = key.Split('/');
        int p = 0, k = 0;
        int starP = -1, starK = 0;
        while (k < keySegments.Length)
        {
            if (p < _segments.Length && _segments[p] == AnySegments)
            {
                // Remember where "**" stood; first try it matching zero segments.
                starP = p++;
                starK = k;
            }
            else if (p < _segments.Length && SegmentMatches(_segments[p], keySegments[k]))
            {
                p++;
                k++;
            }
            else if (starP >= 0)
            {
                // Backtrack: let the last "**" swallow one more segment.
                p = starP + 1;
                k = ++starK;
            }
            else
            {
                return false;
            }
        }

        while (p < _segments.Length && _segments[p] == AnySegments)
        {
            p++;
        }

        return p == _segments.Length;
    }

    /// <summary>Classic single-star wildcard match inside one segment ("**" inside a segment acts as "*").</summary>
    private static bool SegmentMatches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0;
        int starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starT = t;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                t = ++starT;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
