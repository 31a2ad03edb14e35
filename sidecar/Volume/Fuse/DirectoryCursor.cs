using System.Text;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>One visible directory entry. <see cref="Key"/> is the full key (directories end in '/').</summary>
internal sealed record DirectoryEntry(string Name, byte[] NameUtf8, string Key, bool IsDirectory, RemoteObject? Object);

/// <summary>
/// The state of one open directory: streams the listing page by page from the source (delimiter "/"), holding
/// only the current page. READDIR offsets are entry indexes; reading forward fetches the next page from the
/// continuation, seeking back before the current page (rewinddir) restarts the listing. The source's metadata
/// cache keeps pages for the TTL, so a second `ls` within the TTL does not reach the remote.
/// Callers serialize access (the kernel already serializes readdir per open file; <see cref="Gate"/> makes it sure).
/// </summary>
internal sealed class DirectoryCursor(IObjectSource source, string prefix, int pageSize, Action<string, IReadOnlyList<DirectoryEntry>>? onPage = null)
{
    private List<DirectoryEntry> _page = [];
    private long _pageStart;
    private string? _nextStartAfter;
    private bool _started;
    private bool _exhausted;

    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>The entry at a listing index (0-based, "." and ".." excluded), or null past the end.</summary>
    public async ValueTask<DirectoryEntry?> GetAsync(long index, CancellationToken cancellationToken)
    {
        if (!_started || index < _pageStart)
        {
            _started = true;
            _page = [];
            _pageStart = 0;
            _nextStartAfter = null;
            _exhausted = false;
            await LoadNextPageAsync(cancellationToken);
        }
        while (index >= _pageStart + _page.Count)
        {
            if (_exhausted)
            {
                return null;
            }
            _pageStart += _page.Count;
            await LoadNextPageAsync(cancellationToken);
        }
        return _page[(int)(index - _pageStart)];
    }

    private async ValueTask LoadNextPageAsync(CancellationToken cancellationToken)
    {
        var page = await source.ListAsync(new ListRequest(prefix, "/", _nextStartAfter, pageSize), cancellationToken);
        _nextStartAfter = page.NextStartAfter;
        _exhausted = !page.IsTruncated;
        _page = await BuildEntriesAsync(source, prefix, page, cancellationToken);
        onPage?.Invoke(prefix, _page);
    }

    /// <summary>
    /// Turns a listing page into visible entries in key order. A key that is both an object and a prefix
    /// ("a" and "a/b") shows as the directory; the object stays reachable through the S3 endpoint only.
    /// </summary>
    internal static async ValueTask<List<DirectoryEntry>> BuildEntriesAsync(
        IObjectSource source, string prefix, ListPage page, CancellationToken cancellationToken)
    {
        var entries = new List<DirectoryEntry>(page.Objects.Count + page.CommonPrefixes.Count);
        var prefixesInPage = new HashSet<string>(page.CommonPrefixes, StringComparer.Ordinal);
        foreach (var commonPrefix in page.CommonPrefixes)
        {
            var name = commonPrefix[prefix.Length..^1];
            if (EntryNames.IsVisible(name))
            {
                entries.Add(new DirectoryEntry(name, Encoding.UTF8.GetBytes(name), commonPrefix, IsDirectory: true, Object: null));
            }
        }
        foreach (var obj in page.Objects)
        {
            var name = obj.Key[prefix.Length..];
            if (!EntryNames.IsVisible(name))
            {
                continue;
            }
            var asPrefix = obj.Key + "/";
            if (prefixesInPage.Contains(asPrefix))
            {
                continue;
            }
            // "a/" sorts after "a" and "a.txt"; when the page ends between them, ask the source directly.
            if (page.NextStartAfter is not null && string.CompareOrdinal(asPrefix, page.NextStartAfter) > 0
                && await HasChildrenAsync(source, asPrefix, cancellationToken))
            {
                continue;
            }
            entries.Add(new DirectoryEntry(name, Encoding.UTF8.GetBytes(name), obj.Key, IsDirectory: false, obj));
        }
        entries.Sort(static (left, right) => string.CompareOrdinal(left.Key, right.Key));
        return entries;
    }

    /// <summary>True when anything (an object or a deeper prefix, even a "dir/" marker) lives under the prefix.</summary>
    internal static async ValueTask<bool> HasChildrenAsync(IObjectSource source, string directoryPrefix, CancellationToken cancellationToken)
    {
        var page = await source.ListAsync(new ListRequest(directoryPrefix, "/", null, 1), cancellationToken);
        return page.Objects.Count > 0 || page.CommonPrefixes.Count > 0;
    }
}
