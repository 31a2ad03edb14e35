using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// A directory as a source (<c>local:///path</c>, <c>nfs://</c> exports mounted into the sidecar, PVC mounts).
/// Keys map to paths under the root only: traversal segments, absolute keys and NUL are rejected, and a symlink is
/// followed only while its target stays under the root. Listing walks directories in S3 key order (a directory sorts
/// as "name/"), reads use <see cref="RandomAccess"/> on a handle whose identity is checked against the ETag.
/// </summary>
internal sealed partial class LocalObjectSource : IObjectSource
{
    /// <summary>The upload staging directory at the root: reserved, never a key, never listed.</summary>
    internal const string StagingDirectoryName = ".fluid-uploads";

    private readonly string root;

    /// <param name="identity">The cache identity; by default local://&lt;real root&gt;/ (nfs:// sources pass their URI).</param>
    public LocalObjectSource(string rootPath, string? identity = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootPath);
        if (!Path.IsPathFullyQualified(rootPath))
        {
            throw new ArgumentException($"local source root '{rootPath}' must be an absolute path", nameof(rootPath));
        }

        // The real path of the root: containment checks compare real paths, so the root itself may be a symlink
        // (kubelet mounts often are) without every key looking like an escape.
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootPath));
        root = Directory.Exists(full) ? ResolveRealPath(full) : full;
        Identity = identity ?? $"local://{root}/";
    }

    public string Identity { get; }

    /// <summary>The resolved root directory.</summary>
    public string RootPath => root;

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = ResolveKey(key);
        if (path is null || FileStatus.OfPath(path) is not { IsRegularFile: true } status)
        {
            return ValueTask.FromResult<RemoteObject?>(null);
        }

        return ValueTask.FromResult<RemoteObject?>(ToRemoteObject(key, status));
    }

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pager = new ListingPager(request);

        // Start at the deepest directory the prefix names in full ("a/b/c" starts in "a/b/"), not at the root.
        var lastSlash = request.Prefix.LastIndexOf('/');
        var startDirectoryKey = lastSlash < 0 ? "" : request.Prefix[..(lastSlash + 1)];
        if (startDirectoryKey.Length == 0)
        {
            Walk(root, "", pager, [], cancellationToken);
        }
        else if (ResolveDirectory(startDirectoryKey) is { } startDirectory)
        {
            Walk(startDirectory, startDirectoryKey, pager, [], cancellationToken);
        }

        return ValueTask.FromResult(pager.ToPage());
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadRange.ThrowIfOutside(obj, offset, destination.Length);

        var path = ResolveKey(obj.Key) ?? throw new RemoteObjectNotFoundException(obj.Key);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        using (handle)
        {
            // Checked on the handle, before and after the read: a file replaced under the same name (new inode) or
            // rewritten while we read (new mtime) never mixes old and new bytes in one block.
            EnsureUnchanged(obj, handle);
            var filled = 0;
            while (filled < destination.Length)
            {
                var read = await RandomAccess.ReadAsync(handle, destination[filled..], offset + filled, cancellationToken);
                if (read == 0)
                {
                    throw new RemoteObjectChangedException(obj.Key);
                }

                filled += read;
            }

            EnsureUnchanged(obj, handle);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static void EnsureUnchanged(RemoteObject obj, SafeFileHandle handle)
    {
        var status = FileStatus.OfHandle(handle);
        if (status.ETag != obj.ETag || status.Size != obj.Size)
        {
            throw new RemoteObjectChangedException(obj.Key);
        }
    }

    private static RemoteObject ToRemoteObject(string key, FileStatus status) => new(key, status.Size, status.ETag, status.LastModified);

    /// <summary>
    /// Walks <paramref name="directory"/> (whose keys start with <paramref name="directoryKey"/>) in key order.
    /// Returns true when it found at least one object. <paramref name="ancestors"/> holds the real paths being
    /// walked, so a symlink back to an ancestor does not loop.
    /// </summary>
    private bool Walk(string directory, string directoryKey, ListingPager pager, HashSet<string> ancestors, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!ancestors.Add(directory))
        {
            return false;
        }

        var found = false;
        foreach (var (name, path, status) in SortedChildren(directory))
        {
            if (pager.IsFull)
            {
                break;
            }

            if (status.IsDirectory)
            {
                var childKey = directoryKey + name + "/";
                if (pager.CanSkipDirectory(childKey))
                {
                    continue;
                }

                if (pager.RollsUpWhole(childKey))
                {
                    if (ContainsObject(path, ancestors, cancellationToken))
                    {
                        pager.AddCommonPrefix(childKey);
                        found = true;
                    }

                    continue;
                }

                found |= Walk(path, childKey, pager, ancestors, cancellationToken);
            }
            else
            {
                pager.Add(ToRemoteObject(directoryKey + name, status));
                found = true;
            }
        }

        ancestors.Remove(directory);
        return found;
    }

    private bool ContainsObject(string directory, HashSet<string> ancestors, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!ancestors.Add(directory))
        {
            return false;
        }

        try
        {
            foreach (var (_, path, status) in SortedChildren(directory))
            {
                if (!status.IsDirectory || ContainsObject(path, ancestors, cancellationToken))
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            ancestors.Remove(directory);
        }
    }

    /// <summary>
    /// Regular files and directories of one directory, sorted as S3 sorts their keys (directories as "name/").
    /// Symlinks count as their target when it lies under the root; other entries (sockets, FIFOs, escaping
    /// links, names S3 keys cannot hold) are left out. The path of a linked directory is its real path.
    /// </summary>
    private List<(string Name, string Path, FileStatus Status)> SortedChildren(string directory)
    {
        var children = new List<(string Name, string Path, FileStatus Status)>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(directory);
        }
        catch (DirectoryNotFoundException)
        {
            return children;
        }

        foreach (var entryPath in entries)
        {
            var name = Path.GetFileName(entryPath);
            if (name.Contains('\0', StringComparison.Ordinal) || (name == StagingDirectoryName && directory == root))
            {
                continue;
            }

            var path = entryPath;
            var own = FileStatus.OfPathNoFollow(entryPath);
            if (own is null)
            {
                continue;
            }

            var status = own.Value;
            if (!status.IsRegularFile && !status.IsDirectory)
            {
                // A symlink (or a special file): follow it only when its real target stays under the root.
                if (new FileInfo(entryPath).LinkTarget is null)
                {
                    continue;
                }

                var real = ResolveRealPath(entryPath);
                if (!IsUnderRoot(real) || FileStatus.OfPath(real) is not { } target || (!target.IsRegularFile && !target.IsDirectory))
                {
                    continue;
                }

                path = real;
                status = target;
            }

            children.Add((name, path, status));
        }

        children.Sort(static (a, b) => Utf8KeyComparer.Compare(SortName(a), SortName(b)));
        return children;

        static string SortName((string Name, string Path, FileStatus Status) child) => child.Status.IsDirectory ? child.Name + "/" : child.Name;
    }

    private string? ResolveDirectory(string directoryKey)
    {
        var path = ResolveKey(directoryKey.TrimEnd('/'));
        return path is not null && Directory.Exists(path) ? path : null;
    }

    /// <summary>
    /// The real path of <paramref name="key"/> under the root, or null when the key is not a safe relative path or
    /// leads (through symlinks) outside the root. The path need not exist.
    /// </summary>
    internal string? ResolveKey(string key)
    {
        if (!ObjectKeys.IsSafeRelativeKey(key) || key == StagingDirectoryName || key.StartsWith(StagingDirectoryName + "/", StringComparison.Ordinal))
        {
            return null;
        }

        var current = root;
        foreach (var segment in key.Split('/'))
        {
            current = current + "/" + segment;
            if (new FileInfo(current).LinkTarget is not null)
            {
                current = ResolveRealPath(current);
                if (!IsUnderRoot(current))
                {
                    return null;
                }
            }
        }

        return current;
    }

    private bool IsUnderRoot(string realPath) =>
        realPath == root || (realPath.StartsWith(root, StringComparison.Ordinal) && realPath.Length > root.Length && realPath[root.Length] == '/');

    /// <summary>Resolves every symlink along <paramref name="path"/>, component by component (like realpath(3)).</summary>
    private static string ResolveRealPath(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var hops = 0; hops < 64; hops++)
        {
            var restarted = false;
            for (var i = 0; i < parts.Length; i++)
            {
                var candidate = Path.Join(current, parts[i]);
                if (parts[i] == ".")
                {
                    continue;
                }

                if (parts[i] == "..")
                {
                    current = Path.GetDirectoryName(current) ?? "/";
                    continue;
                }

                var link = new FileInfo(candidate).LinkTarget;
                if (link is null)
                {
                    current = candidate;
                    continue;
                }

                // Replace this component by the link's target and continue with what is left.
                var target = Path.IsPathRooted(link) ? link : Path.Join(current, link);
                parts = [.. target.Split('/', StringSplitOptions.RemoveEmptyEntries), .. parts[(i + 1)..]];
                current = "/";
                restarted = true;
                break;
            }

            if (!restarted)
            {
                return current;
            }
        }

        throw new IOException($"too many levels of symbolic links resolving '{path}'");
    }
}
