using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Copy;

/// <summary>
/// Copy mode: materializes a dataset's declared paths into a directory on the shared volume, without FUSE or
/// privileges. Crash-safe by construction: the directory tree is created first; each file is written to
/// <c>.&lt;name&gt;.fluid-partial</c>, flushed to disk and renamed, so a final name only ever holds a complete file;
/// a record line (size, ETag, key) is appended after each rename, so a restart skips complete files; the
/// <c>.fluid-ready</c> marker (files, bytes) is written last, by rename too. The record and the marker live in a
/// state directory of their own (<see cref="StateDirectoryFor"/>, on the cache volume), never in the view: an app
/// listing the copy sees exactly the dataset's files.
/// </summary>
internal sealed partial class DatasetCopier(
    Dataset dataset, string targetPath, IObjectReader reader, CopyOptions options, VolumeProgress progress, TimeProvider time, ILogger logger)
{
    public const string ReadyMarkerName = ".fluid-ready";
    public const string CopiedRecordName = ".fluid-copied";
    public const string PartialSuffix = ".fluid-partial";
    private const int ListPageSize = 1000;
    private const int ChunkSize = 1024 * 1024;
    private const int ManifestMaxBytes = 16 * 1024 * 1024;

    private readonly string _root = Path.GetFullPath(targetPath).TrimEnd('/');
    private readonly string _state = StateDirectoryFor(options.StateDirectory, dataset.Name);

    /// <summary>Where the copy of <paramref name="datasetName"/> keeps its record and ready marker.</summary>
    public static string StateDirectoryFor(string stateRoot, string datasetName) => Path.Combine(Path.GetFullPath(stateRoot), datasetName);
    private readonly Lock _recordLock = new();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        progress.SetState(VolumeState.Copying);
        try
        {
            Directory.CreateDirectory(_root);
            Directory.CreateDirectory(_state);
            var plan = await PlanAsync(cancellationToken);
            var records = LoadRecords();
            RemovePartialFiles();
            var pending = new List<RemoteObject>();
            long totalBytes = 0;
            long completeFiles = 0;
            long completeBytes = 0;
            foreach (var obj in plan)
            {
                totalBytes += obj.Size;
                if (IsComplete(obj, records))
                {
                    completeFiles++;
                    completeBytes += obj.Size;
                }
                else
                {
                    pending.Add(obj);
                }
            }
            progress.SetPlan(plan.Count, totalBytes, completeFiles, completeBytes);
            CheckSpace(totalBytes, pending.Sum(o => o.Size));
            if (pending.Count > 0)
            {
                File.Delete(Path.Combine(_state, ReadyMarkerName));
            }
            CreateDirectories(plan);
            Log.Planned(logger, dataset.Name, _root, plan.Count, totalBytes, pending.Count);

            await using (var recordFile = new FileStream(Path.Combine(_state, CopiedRecordName), FileMode.Append, FileAccess.Write, FileShare.Read))
            {
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Workers), CancellationToken = cancellationToken };
                await Parallel.ForEachAsync(pending, parallel, async (obj, token) => await CopyFileAsync(obj, recordFile, token));
            }
            WriteReadyMarker(plan.Count, totalBytes);
            progress.SetState(VolumeState.Ready);
            Log.Completed(logger, dataset.Name, _root, plan.Count, totalBytes);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            progress.SetState(VolumeState.Stopped);
        }
        catch (Exception exception)
        {
            var message = exception is CopyFailedException ? exception.Message : $"copy of dataset '{dataset.Name}' into '{_root}' failed: {exception.Message}";
            progress.SetState(VolumeState.Failed, message);
            Log.Failed(logger, dataset.Name, message);
        }
    }

    /// <summary>The objects to copy, in key order. Keys no file system can hold are skipped and logged.</summary>
    private async Task<List<RemoteObject>> PlanAsync(CancellationToken cancellationToken)
    {
        var entries = new List<string>();
        foreach (var entry in dataset.Config.Prefetch)
        {
            if (entry.StartsWith('@'))
            {
                entries.AddRange(await ReadManifestAsync(entry[1..], cancellationToken));
            }
            else
            {
                entries.Add(entry);
            }
        }
        if (dataset.Config.Prefetch.Count > 0 && entries.Count == 0)
        {
            throw new CopyFailedException($"the prefetch list of dataset '{dataset.Name}' selects nothing (manifests are empty)");
        }
        var selection = new DeclaredPaths(entries);
        var selected = new SortedDictionary<string, RemoteObject>(StringComparer.Ordinal);
        foreach (var prefix in selection.ListingPrefixes())
        {
            string? startAfter = null;
            do
            {
                var page = await dataset.Source.ListAsync(new ListRequest(prefix, null, startAfter, ListPageSize), cancellationToken);
                foreach (var obj in page.Objects)
                {
                    if (!selection.Matches(obj.Key) || obj.Key.EndsWith('/'))
                    {
                        continue;
                    }
                    if (!IsCopyable(obj.Key))
                    {
                        Log.Skipped(logger, dataset.Name, obj.Key, "not a valid path on a file system (empty, '.', '..', NUL, over 255 bytes, or a reserved .fluid- name)");
                        continue;
                    }
                    selected[obj.Key] = obj;
                }
                startAfter = page.NextStartAfter;
            }
            while (startAfter is not null);
        }
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in selected.Keys)
        {
            for (var slash = key.IndexOf('/', StringComparison.Ordinal); slash >= 0; slash = key.IndexOf('/', slash + 1))
            {
                directories.Add(key[..slash]);
            }
        }
        var plan = new List<RemoteObject>(selected.Count);
        foreach (var (key, obj) in selected)
        {
            if (directories.Contains(key))
            {
                Log.Skipped(logger, dataset.Name, key, "the key is also a directory prefix; the directory wins (the object stays reachable through the S3 endpoint)");
                continue;
            }
            plan.Add(obj);
        }
        return plan;
    }

    private async Task<List<string>> ReadManifestAsync(string key, CancellationToken cancellationToken)
    {
        var manifest = await dataset.Source.HeadAsync(key, cancellationToken)
            ?? throw new CopyFailedException($"prefetch manifest '{key}' of dataset '{dataset.Name}' does not exist");
        if (manifest.Size > ManifestMaxBytes)
        {
            throw new CopyFailedException($"prefetch manifest '{key}' of dataset '{dataset.Name}' is {manifest.Size} bytes; at most {ManifestMaxBytes} are accepted");
        }
        var buffer = new byte[manifest.Size];
        var read = await reader.ReadAsync(dataset, manifest, 0, buffer, cancellationToken);
        return [.. Encoding.UTF8.GetString(buffer, 0, read).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    private bool IsCopyable(string key)
    {
        var segments = key.Split('/');
        foreach (var segment in segments)
        {
            if (!EntryNames.IsVisible(segment))
            {
                return false;
            }
        }
        var name = segments[^1];
        if (name.StartsWith(".fluid-", StringComparison.Ordinal) || name.EndsWith(PartialSuffix, StringComparison.Ordinal))
        {
            return false;
        }
        var full = Path.GetFullPath(Path.Combine(_root, key));
        return full.StartsWith(_root + "/", StringComparison.Ordinal);
    }

    private Dictionary<string, (long Size, string ETag)> LoadRecords()
    {
        var records = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        var path = Path.Combine(_state, CopiedRecordName);
        if (!File.Exists(path))
        {
            return records;
        }
        foreach (var line in File.ReadLines(path))
        {
            // size \t etag \t key ; a torn last line (crash mid-append) simply does not parse.
            var parts = line.Split('\t', 3);
            if (parts.Length == 3 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                records[parts[2]] = (size, parts[1]);
            }
        }
        return records;
    }

    private bool IsComplete(RemoteObject obj, Dictionary<string, (long Size, string ETag)> records)
    {
        if (!records.TryGetValue(obj.Key, out var record) || record.Size != obj.Size || record.ETag != obj.ETag)
        {
            return false;
        }
        var file = new FileInfo(Path.Combine(_root, obj.Key));
        return file.Exists && file.Length == obj.Size;
    }

    private void RemovePartialFiles()
    {
        foreach (var partial in Directory.EnumerateFiles(_root, "*" + PartialSuffix, SearchOption.AllDirectories))
        {
            File.Delete(partial);
        }
    }

    private void CheckSpace(long totalBytes, long pendingBytes)
    {
        if (options.SizeLimitBytes > 0)
        {
            if (totalBytes > options.SizeLimitBytes)
            {
                throw new CopyFailedException($"dataset '{dataset.Name}' needs {totalBytes} bytes in '{_root}' but the copy size limit is {options.SizeLimitBytes} bytes; nothing more was copied (only complete files are kept). Raise the volume's size limit or narrow the prefetch list.");
            }
            return;
        }
        var available = new DriveInfo(_root).AvailableFreeSpace - options.FreeSpaceFloorBytes;
        if (pendingBytes > available)
        {
            throw new CopyFailedException($"dataset '{dataset.Name}' needs {pendingBytes} more bytes in '{_root}' but only {Math.Max(0, available)} are free (keeping {options.FreeSpaceFloorBytes} spare); nothing more was copied (only complete files are kept).");
        }
    }

    private void CreateDirectories(List<RemoteObject> plan)
    {
        string? last = null;
        foreach (var obj in plan)
        {
            var directory = Path.GetDirectoryName(Path.Combine(_root, obj.Key))!;
            if (directory != last)
            {
                Directory.CreateDirectory(directory);
                last = directory;
            }
        }
    }

    private async Task CopyFileAsync(RemoteObject obj, FileStream recordFile, CancellationToken cancellationToken)
    {
        var finalPath = Path.Combine(_root, obj.Key);
        var name = Path.GetFileName(finalPath);
        var partialName = Encoding.UTF8.GetByteCount(name) <= 200 ? $".{name}{PartialSuffix}" : $".{obj.Key.GetHashCode(StringComparison.Ordinal):x8}{PartialSuffix}";
        var partialPath = Path.Combine(Path.GetDirectoryName(finalPath)!, partialName);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            await using (var file = new FileStream(partialPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                long offset = 0;
                while (offset < obj.Size)
                {
                    var want = (int)Math.Min(ChunkSize, obj.Size - offset);
                    var read = await reader.ReadAsync(dataset, obj, offset, buffer.AsMemory(0, want), cancellationToken);
                    if (read <= 0)
                    {
                        throw new IOException($"object '{obj.Key}' ended at {offset} bytes, {obj.Size} expected");
                    }
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    offset += read;
                }
                file.Flush(flushToDisk: true);
            }
            File.SetLastWriteTimeUtc(partialPath, obj.LastModified.UtcDateTime);
            File.Move(partialPath, finalPath, overwrite: true);
        }
        catch (Exception exception)
        {
            File.Delete(partialPath);
            if (exception is IOException && !File.Exists(finalPath) && IsOutOfSpace(exception))
            {
                throw new CopyFailedException($"dataset '{dataset.Name}': the volume at '{_root}' ran out of space while copying '{obj.Key}' ({obj.Size} bytes); only complete files are kept.");
            }
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        var line = Encoding.UTF8.GetBytes($"{obj.Size.ToString(CultureInfo.InvariantCulture)}\t{obj.ETag}\t{obj.Key}\n");
        lock (_recordLock)
        {
            recordFile.Write(line);
            recordFile.Flush(flushToDisk: true);
        }
        progress.FileDone(obj.Size);
    }

    private static bool IsOutOfSpace(Exception exception) =>
        exception.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || exception.Message.Contains("quota", StringComparison.OrdinalIgnoreCase);

    private void WriteReadyMarker(long files, long bytes)
    {
        var marker = new ReadyMarker(dataset.Name, files, bytes, time.GetUtcNow());
        var temporary = Path.Combine(_state, ReadyMarkerName + PartialSuffix);
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(marker, VolumeJsonContext.Default.ReadyMarker));
        File.Move(temporary, Path.Combine(_state, ReadyMarkerName), overwrite: true);
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CopyPlanned, LogLevel.Information, "Copy of dataset {Dataset} into {Path}: {Files} files, {Bytes} bytes planned, {Pending} to copy")]
        public static partial void Planned(ILogger logger, string dataset, string path, int files, long bytes, int pending);

        [LoggerMessage(EventIds.CopyCompleted, LogLevel.Information, "Copy of dataset {Dataset} into {Path} is complete: {Files} files, {Bytes} bytes")]
        public static partial void Completed(ILogger logger, string dataset, string path, int files, long bytes);

        [LoggerMessage(EventIds.CopyFailed, LogLevel.Error, "Copy of dataset {Dataset} stopped: {Reason}")]
        public static partial void Failed(ILogger logger, string dataset, string reason);

        [LoggerMessage(EventIds.CopySkipped, LogLevel.Warning, "Copy of dataset {Dataset} skips key '{Key}': {Reason}")]
        public static partial void Skipped(ILogger logger, string dataset, string key, string reason);
    }
}

/// <summary>Copy-mode limits. SizeLimitBytes 0 means: whatever is free on the target file system minus the floor.</summary>
/// <param name="StateDirectory">The root of the copies' records and ready markers (one subdirectory per dataset), outside every view.</param>
internal sealed record CopyOptions(long SizeLimitBytes, long FreeSpaceFloorBytes, int Workers, string StateDirectory);

/// <summary>A copy that cannot complete; the message names the dataset, the path and what to change.</summary>
internal sealed class CopyFailedException(string message) : Exception(message);
