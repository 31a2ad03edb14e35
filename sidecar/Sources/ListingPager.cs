namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Turns entries that arrive in UTF-8 key order into one S3 listing page: prefix filter, StartAfter, delimiter
/// roll-up into common prefixes and MaxKeys, with the exact truncation flag (a page is truncated only when another
/// entry would follow). Sources that cannot list natively in S3 semantics (local directories, HTTP listing files,
/// WebHDFS) feed their entries through this, so every source pages the same way.
/// </summary>
/// <remarks>
/// StartAfter is exclusive. When StartAfter equals a common prefix, that whole prefix is skipped: this is what makes
/// <see cref="ListPage.NextStartAfter"/> usable as a continuation point after a page that ended on a common prefix.
/// </remarks>
internal sealed class ListingPager
{
    private readonly ListRequest request;
    private readonly List<RemoteObject> objects = [];
    private readonly List<string> commonPrefixes = [];
    private string? lastEmitted;
    private string? lastCommonPrefix;

    public ListingPager(ListRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(request.MaxKeys);
        this.request = request;
    }

    /// <summary>True once the page is complete (full and one more entry was seen); stop feeding entries.</summary>
    public bool IsFull { get; private set; }

    /// <summary>
    /// True when a directory whose keys all start with <paramref name="directoryKey"/> (ending in "/") would be
    /// rolled up whole into one common prefix, so a source may add it with <see cref="AddCommonPrefix"/> without
    /// walking it (it still has to know the directory holds at least one object).
    /// </summary>
    public bool RollsUpWhole(string directoryKey)
    {
        var delimiter = request.Delimiter;
        if (delimiter != "/" || !directoryKey.StartsWith(request.Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        // The common prefix of every key below is the directory itself only when the first "/" after the listing
        // prefix is the directory's own trailing slash.
        var firstDelimiter = directoryKey.IndexOf('/', request.Prefix.Length);
        if (firstDelimiter != directoryKey.Length - 1)
        {
            return false;
        }

        // If StartAfter points inside the directory, some keys below it may come before it: walk it instead.
        var startAfter = request.StartAfter;
        return startAfter is null || startAfter == directoryKey || !startAfter.StartsWith(directoryKey, StringComparison.Ordinal);
    }

    /// <summary>
    /// True when a directory whose keys all start with <paramref name="directoryKey"/> can hold nothing for this
    /// page (outside the prefix, or entirely at or before StartAfter), so a source need not walk it.
    /// </summary>
    public bool CanSkipDirectory(string directoryKey)
    {
        var prefix = request.Prefix;
        if (!directoryKey.StartsWith(prefix, StringComparison.Ordinal) && !prefix.StartsWith(directoryKey, StringComparison.Ordinal))
        {
            return true;
        }

        var startAfter = request.StartAfter;
        return startAfter is not null
            && Utf8KeyComparer.Compare(startAfter, directoryKey) > 0
            && !startAfter.StartsWith(directoryKey, StringComparison.Ordinal);
    }

    /// <summary>Adds one object; entries must arrive in UTF-8 key order.</summary>
    public void Add(RemoteObject entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var key = entry.Key;
        if (IsFull || !key.StartsWith(request.Prefix, StringComparison.Ordinal))
        {
            return;
        }

        if (request.StartAfter is { } startAfter && Utf8KeyComparer.Compare(key, startAfter) <= 0)
        {
            return;
        }

        if (request.Delimiter is { Length: > 0 } delimiter)
        {
            var at = key.IndexOf(delimiter, request.Prefix.Length, StringComparison.Ordinal);
            if (at >= 0)
            {
                AddCommonPrefix(key[..(at + delimiter.Length)]);
                return;
            }
        }

        if (Reserve(key))
        {
            objects.Add(entry);
        }
    }

    /// <summary>Adds a common prefix (a directory known to hold at least one object, see <see cref="RollsUpWhole"/>).</summary>
    public void AddCommonPrefix(string commonPrefix)
    {
        if (IsFull || commonPrefix == lastCommonPrefix || commonPrefix == request.StartAfter)
        {
            return;
        }

        if (request.StartAfter is { } startAfter
            && Utf8KeyComparer.Compare(commonPrefix, startAfter) < 0
            && !startAfter.StartsWith(commonPrefix, StringComparison.Ordinal))
        {
            return;
        }

        if (Reserve(commonPrefix))
        {
            commonPrefixes.Add(commonPrefix);
            lastCommonPrefix = commonPrefix;
        }
    }

    private bool Reserve(string item)
    {
        if (objects.Count + commonPrefixes.Count >= request.MaxKeys)
        {
            IsFull = true;
            return false;
        }

        lastEmitted = item;
        return true;
    }

    public ListPage ToPage() => new(objects, commonPrefixes, IsFull && request.MaxKeys > 0 ? lastEmitted : null);
}
