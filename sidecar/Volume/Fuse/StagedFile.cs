using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// One file being written through the FUSE view: its bytes in <c>&lt;id&gt;.data</c> on the cache volume (read and
/// written at offsets), and a small <c>&lt;id&gt;.state</c> naming the dataset, source, key and generation and whether
/// the writer asked for durability (fsync or close). A restart uploads a file whose state says complete and deletes the
/// rest. Every staged byte is reserved in the staging budget first; a write that cannot get it fails with ENOSPC.
/// Thread-safe: WRITEs at different offsets run in parallel; the generation counts them, so an upload knows whether
/// more bytes arrived while it ran.
/// </summary>
internal sealed class StagedFile : IDisposable
{
    private readonly Lock _lock = new();
    private readonly FuseStaging _staging;
    private readonly string _dataset;
    private readonly string _sourceIdentity;
    private readonly SafeFileHandle _handle;
    private long _length;
    private long _reserved;
    private long _generation;
    private long _uploadedGeneration;
    private bool _stateComplete;
    private int _openHandles;
    private bool _retired;
    private readonly Lock _handleGate = new();
    private int _disposed;

    private StagedFile(FuseStaging staging, string dataset, string sourceIdentity, string key, string basePath, SafeFileHandle handle, long length, DateTimeOffset modified)
    {
        _staging = staging;
        _dataset = dataset;
        _sourceIdentity = sourceIdentity;
        Key = key;
        DataPath = basePath + ".data";
        StatePath = basePath + ".state";
        _handle = handle;
        _length = length;
        Modified = modified;
    }

    /// <summary>The object key it is uploaded to; changes when the file is renamed while staged.</summary>
    public string Key { get; set; }

    public string DataPath { get; }

    public string StatePath { get; }

    public long Length => Interlocked.Read(ref _length);

    public DateTimeOffset Modified { get; private set; }

    /// <summary>True when no object existed under the key when staging began: the file is listed from here until uploaded.</summary>
    public bool IsNew { get; set; }

    /// <summary>Unlinked while open: never uploaded, deleted when the last handle closes.</summary>
    public bool Deleted { get; set; }

    /// <summary>Bytes written (or truncated) since the last successful upload.</summary>
    public bool IsDirty => Interlocked.Read(ref _generation) != Interlocked.Read(ref _uploadedGeneration);

    public int OpenHandles => Volatile.Read(ref _openHandles);

    /// <summary>Why the last upload failed; null after a success.</summary>
    public string? LastError { get; set; }

    /// <summary>Write-back: when the upload of a closed file is due; null = not waiting for write-back.</summary>
    public DateTimeOffset? UploadDueAt { get; set; }

    /// <summary>One upload at a time.</summary>
    public SemaphoreSlim UploadGate { get; } = new(1, 1);

    public static StagedFile Create(FuseStaging staging, string dataset, string sourceIdentity, string key, DateTimeOffset now)
    {
        var directory = staging.DatasetDirectory(dataset);
        System.IO.Directory.CreateDirectory(directory);
        var basePath = Path.Combine(directory, Guid.NewGuid().ToString("N"));
        var handle = File.OpenHandle(basePath + ".data", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        var file = new StagedFile(staging, dataset, sourceIdentity, key, basePath, handle, 0, now);
        file.WriteState(complete: false);
        return file;
    }

    /// <summary>Takes over a staged file a previous process left (its state said complete); its bytes count as dirty.</summary>
    public static StagedFile Adopt(FuseStaging staging, string dataset, string sourceIdentity, string key, string basePath, long generation)
    {
        var handle = File.OpenHandle(basePath + ".data", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        var file = new StagedFile(staging, dataset, sourceIdentity, key, basePath, handle, length, File.GetLastWriteTimeUtc(basePath + ".data"))
        {
            _generation = Math.Max(1, generation),
            _stateComplete = true,
        };
        // Over the budget (it shrank between runs) the bytes stay uncounted: they are on the volume already, and
        // uploading them is what frees them.
        file._reserved = staging.Budget.TryReserve(length) ? length : 0;
        staging.Statistics.AddStaged(file._reserved);
        return file;
    }

    /// <summary>The first handle of a file not yet in the staging table (nobody else can reach it).</summary>
    public void AddHandle() => Interlocked.Increment(ref _openHandles);

    /// <summary>
    /// One more handle on a file found in the staging table; false when the file was retired. Taking a handle and
    /// retiring share a gate, so that a RELEASE that found no handles and an OPEN of the same file a moment later
    /// cannot both go ahead: the OPEN would get a file that the RELEASE then disposes, and its writes would fail.
    /// </summary>
    public bool TryAddHandle()
    {
        lock (_handleGate)
        {
            if (_retired)
            {
                return false;
            }
            Interlocked.Increment(ref _openHandles);
            return true;
        }
    }

    /// <summary>Retires the file when no handle is open (it is to be discarded); from then on no handle is taken on it.</summary>
    public bool TryRetire()
    {
        lock (_handleGate)
        {
            if (Volatile.Read(ref _openHandles) > 0)
            {
                return false;
            }
            _retired = true;
            return true;
        }
    }

    /// <summary>Returns the handles left.</summary>
    public int RemoveHandle() => Interlocked.Decrement(ref _openHandles);

    /// <summary>Writes at <paramref name="offset"/>; 0, or ENOSPC when staging space cannot be had.</summary>
    public int Write(long offset, ReadOnlySpan<byte> data, DateTimeOffset now)
    {
        var end = offset + data.Length;
        if (!TryGrow(end))
        {
            return LibC.ENOSPC;
        }
        MarkDirty(now);
        try
        {
            RandomAccess.Write(_handle, data, offset);
        }
        catch (IOException exception) when (IsNoSpace(exception))
        {
            return LibC.ENOSPC;
        }
        long current;
        while ((current = Interlocked.Read(ref _length)) < end && Interlocked.CompareExchange(ref _length, end, current) != current)
        {
        }
        return 0;
    }

    /// <summary>Sets the length (truncate or extend with zeros); 0 or ENOSPC.</summary>
    public int SetLength(long length, DateTimeOffset now)
    {
        if (!TryGrow(length))
        {
            return LibC.ENOSPC;
        }
        MarkDirty(now);
        lock (_lock)
        {
            RandomAccess.SetLength(_handle, length);
            Interlocked.Exchange(ref _length, length);
        }
        return 0;
    }

    /// <summary>Copies an existing object's bytes in before anything else is written (append, read-modify-write).</summary>
    public async Task FillAsync(Func<Stream, Task> copy, long expectedLength)
    {
        if (!TryGrow(expectedLength))
        {
            throw new StagingFullException();
        }
        await using (var stream = new FileStream(DataPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1024 * 1024, FileOptions.Asynchronous))
        {
            await copy(stream);
        }
        Interlocked.Exchange(ref _length, RandomAccess.GetLength(_handle));
    }

    public int Read(long offset, Span<byte> destination)
    {
        var available = Length - offset;
        if (available <= 0)
        {
            return 0;
        }
        return RandomAccess.Read(_handle, destination[..(int)Math.Min(destination.Length, available)], offset);
    }

    /// <summary>
    /// On disk before an upload: fsync of the bytes, then the state marked complete with this generation, so a crash
    /// from here on leaves a file the restart uploads. Returns the generation the upload covers.
    /// </summary>
    public long Seal()
    {
        var generation = Interlocked.Read(ref _generation);
        RandomAccess.FlushToDisk(_handle);
        lock (_lock)
        {
            WriteState(complete: true, generation);
            _stateComplete = true;
        }
        return generation;
    }

    public FileStream OpenRead() => new(DataPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1024 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>The upload of <paramref name="generation"/> succeeded; without newer writes the state file goes (nothing left to recover).</summary>
    public void Uploaded(long generation)
    {
        lock (_lock)
        {
            Interlocked.Exchange(ref _uploadedGeneration, generation);
            LastError = null;
            if (!IsDirty)
            {
                File.Delete(StatePath);
                _stateComplete = false;
            }
        }
    }

    /// <summary>Deletes both files and gives the space back.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _handle.Dispose();
        File.Delete(DataPath);
        File.Delete(StatePath);
        lock (_lock)
        {
            _staging.Budget.Release(_reserved);
            _staging.Statistics.AddStaged(-_reserved);
            _reserved = 0;
        }
        UploadGate.Dispose();
    }

    public void WriteState(bool complete, long generation = 0)
    {
        var temp = StatePath + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                json.WriteString("dataset", _dataset);
                json.WriteString("source", _sourceIdentity);
                json.WriteString("key", Key);
                json.WriteNumber("generation", generation);
                json.WriteBoolean("complete", complete);
                json.WriteEndObject();
            }
            stream.Flush(flushToDisk: complete);
        }
        File.Move(temp, StatePath, overwrite: true);
    }

    private void MarkDirty(DateTimeOffset now)
    {
        Interlocked.Increment(ref _generation);
        Modified = now;
        if (Volatile.Read(ref _stateComplete))
        {
            lock (_lock)
            {
                if (_stateComplete)
                {
                    // Written after a seal: until the next fsync/close the staged bytes are not something to recover.
                    WriteState(complete: false);
                    _stateComplete = false;
                }
            }
        }
    }

    private bool TryGrow(long length)
    {
        lock (_lock)
        {
            if (length <= _reserved)
            {
                return true;
            }
            var more = length - _reserved;
            if (!_staging.Budget.TryReserve(more))
            {
                return false;
            }
            _reserved = length;
            _staging.Statistics.AddStaged(more);
            return true;
        }
    }

    private static bool IsNoSpace(IOException exception) =>
        exception.HResult == LibC.ENOSPC || (exception.HResult & 0xFFFF) == LibC.ENOSPC
        || exception.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The staging budget (cache.stagingBytes) or the cache volume has no room for a staged file: ENOSPC.</summary>
internal sealed class StagingFullException() : IOException("no staging space left on the cache volume (cache.stagingBytes)");

/// <summary>The state file of a staged file, as a restart reads it.</summary>
internal sealed record StagedFileState(string Dataset, string Source, string Key, long Generation, bool Complete)
{
    public static StagedFileState? TryRead(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            return new StagedFileState(
                root.GetProperty("dataset").GetString() ?? "",
                root.GetProperty("source").GetString() ?? "",
                root.GetProperty("key").GetString() ?? "",
                root.GetProperty("generation").GetInt64(),
                root.GetProperty("complete").GetBoolean());
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            return null;
        }
    }
}
