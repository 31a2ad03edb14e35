namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>What one prefetch entry names.</summary>
internal enum PrefetchEntryKind
{
    /// <summary>"dir/" or "" (the whole dataset): every object under the prefix.</summary>
    Prefix,

    /// <summary>"dir/file.bin" or "dir": the object with that key, else everything under "dir/".</summary>
    KeyOrDirectory,

    /// <summary>"train/**/*.jpg": matching keys, listed under the literal prefix only.</summary>
    Glob,

    /// <summary>"@lists/epoch1.txt": a file in the dataset listing keys in read order, one per line.</summary>
    Manifest,
}

/// <summary>One parsed entry of <c>DatasetConfig.Prefetch</c> or of an admin warm-up request.</summary>
internal sealed record PrefetchEntry(string Text, PrefetchEntryKind Kind, string Path, GlobPattern? Glob)
{
    public const char ManifestMarker = '@';

    /// <summary>Parses an entry; a leading "/" is tolerated (users write absolute-looking paths).</summary>
    public static bool TryParse(string? text, out PrefetchEntry entry, out string error)
    {
        entry = null!;
        if (text is null)
        {
            error = "a prefetch entry is null; expected a path, a glob or '@manifest-key'";
            return false;
        }

        var trimmed = text.Trim();
        var isManifest = trimmed.StartsWith(ManifestMarker);
        var path = (isManifest ? trimmed[1..] : trimmed).TrimStart('/');

        if (path.Contains('\\', StringComparison.Ordinal) || path.Contains('\0', StringComparison.Ordinal))
        {
            error = $"invalid prefetch entry '{text}': backslashes and NUL are not allowed in keys";
            return false;
        }

        foreach (var segment in path.Split('/'))
        {
            if (segment is "." or "..")
            {
                error = $"invalid prefetch entry '{text}': '.' and '..' segments are not allowed";
                return false;
            }
        }

        if (isManifest)
        {
            if (path.Length == 0 || path.EndsWith('/') || GlobPattern.IsGlob(path))
            {
                error = $"invalid prefetch entry '{text}': expected '@' followed by the key of a manifest file";
                return false;
            }

            entry = new PrefetchEntry(text, PrefetchEntryKind.Manifest, path, null);
        }
        else if (GlobPattern.IsGlob(path))
        {
            entry = new PrefetchEntry(text, PrefetchEntryKind.Glob, path, GlobPattern.Compile(path));
        }
        else if (path.Length == 0 || path.EndsWith('/'))
        {
            entry = new PrefetchEntry(text, PrefetchEntryKind.Prefix, path, null);
        }
        else
        {
            entry = new PrefetchEntry(text, PrefetchEntryKind.KeyOrDirectory, path, null);
        }

        error = "";
        return true;
    }

    /// <summary>Parses every entry; the first bad one is reported by its text.</summary>
    public static bool TryParseAll(IReadOnlyList<string> texts, out IReadOnlyList<PrefetchEntry> entries, out string error)
    {
        var parsed = new List<PrefetchEntry>(texts.Count);
        foreach (var text in texts)
        {
            if (!TryParse(text, out var entry, out error))
            {
                entries = [];
                return false;
            }

            parsed.Add(entry);
        }

        entries = parsed;
        error = "";
        return true;
    }
}
