using System.Collections.Concurrent;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// Read-ahead across files: a reader that reads the small files of a listed directory one after another in listing
/// order (ImageFolder, `for f in sorted(os.listdir(d))`) would wait one remote round trip per file. Once two files
/// were read in order, the next <see cref="Window"/> small files of the last listing page are warmed into the block
/// cache in the background, so their reads are cache hits. A reader in any other order starts nothing.
/// </summary>
internal sealed class SmallFileReadAhead(IObjectReader reader)
{
    /// <summary>Files warmed ahead of a reader in listing order.</summary>
    public const int Window = 16;

    /// <summary>Largest file warmed ahead (a bigger one gets the reader's own block read-ahead).</summary>
    public const long SmallFileBytes = 1024 * 1024;

    private const int MaxDirectories = 64;
    private const int MaxWarmingAtOnce = 32;

    private readonly ConcurrentDictionary<string, DirectoryPage> _pages = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _warming = new(MaxWarmingAtOnce, MaxWarmingAtOnce);
    private long _started;

    /// <summary>Files warmed ahead so far.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Remembers the latest listing page of a directory (entries in key order).</summary>
    public void OnPage(string directoryKey, IReadOnlyList<DirectoryEntry> entries)
    {
        if (_pages.Count >= MaxDirectories)
        {
            _pages.Clear();
        }

        _pages[directoryKey] = new DirectoryPage(entries);
    }

    /// <summary>A read at offset 0 of <paramref name="obj"/>: warms the next small files when the reader goes in listing order.</summary>
    public void OnFirstRead(Dataset dataset, RemoteObject obj)
    {
        if (obj.Size > SmallFileBytes || !_pages.TryGetValue(obj.Key[..(obj.Key.LastIndexOf('/') + 1)], out var page))
        {
            return;
        }

        int from, to;
        lock (page)
        {
            var index = page.IndexOf(obj.Key);
            if (index < 0)
            {
                return;
            }

            var inOrder = index == page.LastRead + 1;
            page.LastRead = index;
            if (!inOrder)
            {
                return;
            }

            from = Math.Max(index + 1, page.WarmedUpTo);
            to = Math.Min(page.Entries.Count, index + 1 + Window);
            page.WarmedUpTo = Math.Max(page.WarmedUpTo, to);
        }

        for (var i = from; i < to; i++)
        {
            if (page.Entries[i] is { IsDirectory: false, Object: { Size: > 0 and <= SmallFileBytes } next } && _warming.Wait(0))
            {
                Interlocked.Increment(ref _started);
                _ = WarmAsync(dataset, next);
            }
        }
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

    private sealed class DirectoryPage(IReadOnlyList<DirectoryEntry> entries)
    {
        public IReadOnlyList<DirectoryEntry> Entries { get; } = entries;
        public int LastRead { get; set; } = -2;
        public int WarmedUpTo { get; set; }

        public int IndexOf(string key)
        {
            int low = 0, high = Entries.Count - 1;
            while (low <= high)
            {
                var middle = (low + high) >>> 1;
                var order = string.CompareOrdinal(Entries[middle].Key, key);
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
