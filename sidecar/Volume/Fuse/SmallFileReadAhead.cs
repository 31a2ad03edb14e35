using System.Runtime.InteropServices;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// Read-ahead across files: a reader that reads the small files of a listed directory one after another in listing
/// order (ImageFolder, `for f in sorted(os.listdir(d))`) would wait one remote round trip per file. Once two files
/// were read in order, the next <see cref="Window"/> small files of the listing are warmed into the block cache in the
/// background, so their reads are cache hits. A reader in any other order starts nothing.
/// </summary>
/// <remarks>
/// A directory's listing arrives a page (1,000 keys) at a time, and a reader lists the whole directory before it reads
/// the first file. So the pages of one listing are joined into one list: a reader of file 10 of 5,000 is found in the
/// first page, and the window runs on across page ends. The files are remembered as the listing's own
/// <see cref="RemoteObject"/>s (a reference each), <see cref="MaxRememberedFiles"/> across all directories.
/// </remarks>
internal sealed class SmallFileReadAhead(IObjectReader reader)
{
    /// <summary>Files warmed ahead of a reader in listing order.</summary>
    public const int Window = 16;

    /// <summary>Largest file warmed ahead (a bigger one gets the reader's own block read-ahead).</summary>
    public const long SmallFileBytes = 1024 * 1024;

    /// <summary>
    /// Files remembered across all directories: at most a few MiB of references. A directory listed past it keeps
    /// its first files; the files after them are read without read-ahead.
    /// </summary>
    public const int MaxRememberedFiles = 250_000;

    /// <summary>Directories remembered at once (a tree walk lists many); past it, all but the one listed are forgotten.</summary>
    private const int MaxDirectories = 1024;

    private const int MaxWarmingAtOnce = 32;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, DirectoryListing> _listings = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _warming = new(MaxWarmingAtOnce, MaxWarmingAtOnce);
    private long _started;

    /// <summary>Files warmed ahead so far.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Files remembered now, across all directories.</summary>
    public int Remembered
    {
        get
        {
            lock (_gate)
            {
                return CountRemembered();
            }
        }
    }

    /// <summary>
    /// A listing page of a directory (entries in key order): it continues the directory's listing when its first file
    /// comes after the last one remembered, and starts the listing over otherwise (a new `ls`).
    /// </summary>
    public void OnPage(string directoryKey, IReadOnlyList<DirectoryEntry> entries)
    {
        var files = new List<RemoteObject>(entries.Count);
        foreach (var entry in entries)
        {
            if (entry is { IsDirectory: false, Object: { } obj })
            {
                files.Add(obj);
            }
        }

        if (files.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (!_listings.TryGetValue(directoryKey, out var listing) || !listing.IsContinuedBy(files[0].Key))
            {
                listing = new DirectoryListing();
                _listings[directoryKey] = listing;
            }

            var remembered = CountRemembered();
            if (remembered + files.Count > MaxRememberedFiles || _listings.Count > MaxDirectories)
            {
                ForgetAllBut(listing);
                remembered = listing.Files.Count;
            }

            var room = Math.Min(files.Count, MaxRememberedFiles - remembered);
            listing.Files.AddRange(CollectionsMarshal.AsSpan(files)[..room]);
        }
    }

    /// <summary>A read at offset 0 of <paramref name="obj"/>: warms the next small files when the reader goes in listing order.</summary>
    public void OnFirstRead(Dataset dataset, RemoteObject obj)
    {
        if (obj.Size > SmallFileBytes)
        {
            return;
        }

        RemoteObject[] ahead;
        lock (_gate)
        {
            if (!_listings.TryGetValue(obj.Key[..(obj.Key.LastIndexOf('/') + 1)], out var listing))
            {
                return;
            }

            var index = listing.IndexOf(obj.Key);
            if (index < 0)
            {
                return;
            }

            var inOrder = index == listing.LastRead + 1;
            listing.LastRead = index;
            if (!inOrder)
            {
                return;
            }

            var from = Math.Max(index + 1, listing.WarmedUpTo);
            var to = Math.Min(listing.Files.Count, index + 1 + Window);
            if (from >= to)
            {
                return;
            }

            listing.WarmedUpTo = to;
            ahead = CollectionsMarshal.AsSpan(listing.Files)[from..to].ToArray();
        }

        foreach (var next in ahead)
        {
            if (next.Size is > 0 and <= SmallFileBytes && _warming.Wait(0))
            {
                Interlocked.Increment(ref _started);
                _ = WarmAsync(dataset, next);
            }
        }
    }

    private void ForgetAllBut(DirectoryListing kept)
    {
        foreach (var (key, listing) in _listings)
        {
            if (!ReferenceEquals(listing, kept))
            {
                _listings.Remove(key);
            }
        }
    }

    /// <summary>Files of every listing (a sum over at most <see cref="MaxDirectories"/> lists, once per listing page).</summary>
    private int CountRemembered()
    {
        var count = 0;
        foreach (var listing in _listings.Values)
        {
            count += listing.Files.Count;
        }

        return count;
    }

    private async Task WarmAsync(Dataset dataset, RemoteObject obj)
    {
        try
        {
            await reader.WarmAsync(dataset, obj, CancellationToken.None);
        }
        catch (Exception)
        {
            // Nobody waits on a warm-up: the file's own read fetches it and reports the remote's error.
        }
        finally
        {
            _warming.Release();
        }
    }

    /// <summary>The files of one directory's listing so far, in key order, and where its reader is.</summary>
    private sealed class DirectoryListing
    {
        public List<RemoteObject> Files { get; } = [];
        public int LastRead { get; set; } = -2;
        public int WarmedUpTo { get; set; }

        public bool IsContinuedBy(string firstKey) => Files.Count > 0 && string.CompareOrdinal(firstKey, Files[^1].Key) > 0;

        public int IndexOf(string key)
        {
            int low = 0, high = Files.Count - 1;
            while (low <= high)
            {
                var middle = (low + high) >>> 1;
                var order = string.CompareOrdinal(Files[middle].Key, key);
                if (order == 0)
                {
                    return middle;
                }

                if (order < 0)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }

            return -1;
        }
    }
}
