namespace Fluid.Serverless.Sidecar.Volume.Copy;

/// <summary>
/// Which keys copy mode materializes: the dataset's prefetch list, or everything when the list is empty.
/// An entry is a key ("train/labels.csv"), a prefix ("train/" — or "train", which also matches the key itself),
/// or a glob ("train/**/*.jpg": '**' crosses '/', '*' and '?' do not). "@manifest-key" entries (a key whose lines
/// are keys) are expanded by the copier before matching.
/// </summary>
internal sealed class DeclaredPaths
{
    private readonly List<string> _patterns;

    public DeclaredPaths(IEnumerable<string> entries)
    {
        _patterns = [.. entries.Select(e => e.Trim().TrimStart('/')).Where(e => e.Length > 0)];
    }

    public bool IsEverything => _patterns.Count == 0;

    /// <summary>The prefixes to list so that every matching key is seen (the literal part before any wildcard).</summary>
    public IReadOnlyList<string> ListingPrefixes()
    {
        if (IsEverything)
        {
            return [""];
        }
        var prefixes = new List<string>();
        foreach (var pattern in _patterns)
        {
            var wildcard = pattern.IndexOfAny(['*', '?']);
            var literal = wildcard < 0 ? pattern : pattern[..wildcard];
            // List from the last complete segment: "train/ca*" lists "train/".
            var prefix = wildcard < 0 ? literal : literal[..(literal.LastIndexOf('/') + 1)];
            if (!prefixes.Any(existing => prefix.StartsWith(existing, StringComparison.Ordinal)))
            {
                prefixes.RemoveAll(existing => existing.StartsWith(prefix, StringComparison.Ordinal));
                prefixes.Add(prefix);
            }
        }
        return prefixes;
    }

    public bool Matches(string key)
    {
        if (IsEverything)
        {
            return true;
        }
        foreach (var pattern in _patterns)
        {
            if (pattern.AsSpan().IndexOfAny('*', '?') >= 0)
            {
                if (GlobMatches(pattern, key))
                {
                    return true;
                }
            }
            else if (key == pattern
                || (pattern.EndsWith('/') && key.StartsWith(pattern, StringComparison.Ordinal))
                || key.StartsWith(pattern + "/", StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    internal static bool GlobMatches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        while (!pattern.IsEmpty)
        {
            if (pattern.StartsWith("**"))
            {
                var rest = pattern[2..];
                if (rest.StartsWith("/"))
                {
                    // "**/" also matches no directory at all ("a/**/b" matches "a/b").
                    if (GlobMatches(rest[1..], text))
                    {
                        return true;
                    }
                }
                for (var i = 0; i <= text.Length; i++)
                {
                    if (GlobMatches(rest, text[i..]))
                    {
                        return true;
                    }
                }
                return false;
            }
            if (pattern[0] == '*')
            {
                for (var i = 0; i <= text.Length; i++)
                {
                    if (GlobMatches(pattern[1..], text[i..]))
                    {
                        return true;
                    }
                    if (i < text.Length && text[i] == '/')
                    {
                        return false;
                    }
                }
                return false;
            }
            if (text.IsEmpty || (pattern[0] == '?' ? text[0] == '/' : pattern[0] != text[0]))
            {
                return false;
            }
            pattern = pattern[1..];
            text = text[1..];
        }
        return text.IsEmpty;
    }
}
