using System.Diagnostics;
using System.IO.Enumeration;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The start-up scan: indexes every intact block file (oldest mtime = least recently used), deletes temp files left
/// by dead processes and files whose header is torn, then enforces the quota. Reads stay correct while it runs and
/// if it fails (a file it misses is fetched again and overwritten).
/// </summary>
internal sealed partial class BlockIndexScanner
{
    private readonly BlockFileStore _files;
    private readonly BlockIndex _index;
    private readonly BlockEviction _eviction;
    private readonly ILogger _logger;
    private readonly CancellationToken _lifetime;

    public BlockIndexScanner(BlockFileStore files, BlockIndex index, BlockEviction eviction, ILogger logger, CancellationToken lifetime)
    {
        _files = files;
        _index = index;
        _eviction = eviction;
        _logger = logger;
        _lifetime = lifetime;
    }

    /// <summary>A block file the scan found: its entry, its path (entries do not keep one) and its mtime.</summary>
    private readonly record struct ScannedBlock(BlockEntry Entry, string Path, long ModifiedTicks);

    /// <summary>
    /// Scans the directory into the index; true when it finished. <paramref name="listedHook"/> (tests) runs after
    /// the files are listed and before they are indexed. The scan's garbage (paths, headers, the sorted list) is
    /// unreachable once this returns.
    /// </summary>
    public async Task<bool> ScanAsync(Func<Task>? listedHook)
    {
        var started = Stopwatch.GetTimestamp();
        var found = new List<ScannedBlock>();
        try
        {
            ListBlockFiles(found);
            if (listedHook is not null)
            {
                await listedHook();
            }

            // Newest first, each added before the others: the oldest ends at the head of the LRU list, and all
            // of them before blocks this process already touched.
            found.Sort(static (a, b) => b.ModifiedTicks.CompareTo(a.ModifiedTicks));
            var dropped = 0;
            foreach (var block in found)
            {
                // Under the file's stripe, like deletions: a file this run evicted after the scan saw it is not
                // indexed again, and one evicted "meanwhile" but not yet deleted is kept (the eviction sees the
                // entry and leaves the file), so the index and the disk agree. A file of an object invalidated
                // since the scan started is refused by the index and deleted here.
                lock (_files.LockFor(block.Path))
                {
                    if (File.Exists(block.Path) && _index.AddScanned(block.Entry) is null)
                    {
                        _files.TryDelete(block.Path);
                        dropped++;
                    }
                }
            }

            // The quota may have shrunk since the last run.
            _eviction.EnforceQuota();
            Log.IndexLoaded(_logger, found.Count - dropped, _index.UsedBytes, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return true;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.IndexLoadFailed(_logger, _files.BlocksDirectory, e);
            return false;
        }
    }

    private void ListBlockFiles(List<ScannedBlock> found)
    {
        // One instance of each source identity, object key and ETag for the life of the index (every block of an
        // object, and every object of a source, share them): the index of a warm cache stays resident.
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in Directory.EnumerateDirectories(_files.BlocksDirectory))
        {
            _lifetime.ThrowIfCancellationRequested();
            ScanShard(shard, found, strings);
        }
    }

    private void ScanShard(string shard, List<ScannedBlock> found, Dictionary<string, string> strings)
    {
        var files = new FileSystemEnumerable<(string Path, long Length, DateTimeOffset Modified)>(
            shard,
            static (ref FileSystemEntry e) => (e.ToFullPath(), e.Length, e.LastWriteTimeUtc))
        {
            ShouldIncludePredicate = static (ref FileSystemEntry e) => !e.IsDirectory,
        };

        foreach (var file in files)
        {
            if (file.Path.EndsWith(BlockFileFormat.TempExtension, StringComparison.Ordinal))
            {
                // A temp file is never read; one of another process is what a crash left behind.
                if (!_files.IsOwnTempFile(file.Path))
                {
                    _files.TryDelete(file.Path);
                }

                continue;
            }

            if (!file.Path.EndsWith(BlockFileFormat.BlockExtension, StringComparison.Ordinal))
            {
                continue;
            }

            var key = BlockFileReader.TryReadKey(file.Path, file.Length);
            if (key is null || _files.PathOf(key.Value) != file.Path)
            {
                _files.DropUnreadable(file.Path, "torn or foreign header found by the start-up scan");
                continue;
            }

            var k = key.Value;
            var shared = new BlockKey(Intern(strings, k.SourceIdentity), Intern(strings, k.ObjectKey), Intern(strings, k.ETag), k.Index);
            var entry = new BlockEntry(shared, file.Length) { LastPersistedTouchTicks = file.Modified.UtcTicks };
            found.Add(new ScannedBlock(entry, file.Path, file.Modified.UtcTicks));
        }
    }

    private static string Intern(Dictionary<string, string> strings, string value)
    {
        if (strings.TryGetValue(value, out var existing))
        {
            return existing;
        }

        strings.Add(value, value);
        return value;
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CacheIndexLoaded, LogLevel.Information, "Block cache index loaded: {Blocks} blocks, {Bytes} bytes in {Milliseconds} ms")]
        public static partial void IndexLoaded(ILogger logger, int blocks, long bytes, double milliseconds);

        [LoggerMessage(EventIds.CacheIndexLoadFailed, LogLevel.Error, "Block cache index scan of {Directory} failed; cached blocks are still found on read")]
        public static partial void IndexLoadFailed(ILogger logger, string directory, Exception exception);
    }
}
