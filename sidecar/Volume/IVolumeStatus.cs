using System.Text.Json.Serialization;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>What the hosting layer shows in /status and gates /readyz on: one entry per dataset volume.</summary>
internal interface IVolumeStatus
{
    /// <summary>fuse, copy or s3 (no volumes), after resolving auto.</summary>
    string Mode { get; }

    IReadOnlyList<VolumeStatusEntry> Volumes { get; }

    /// <summary>True when every volume is mounted (fuse) or fully materialized (copy). Vacuously true in s3 mode.</summary>
    bool IsReady { get; }

    /// <summary>Counters of writes through the FUSE views; null when no view accepts writes.</summary>
    FuseWriteStatistics? WriteStatistics => null;
}

[JsonConverter(typeof(JsonStringEnumConverter<VolumeState>))]
internal enum VolumeState
{
    Pending,
    Mounting,
    Mounted,
    Copying,
    Ready,
    Failed,
    Stopped,
}

/// <summary>A point-in-time view of one volume. Counts are for copy mode (files/bytes planned and done).</summary>
internal sealed record VolumeStatusEntry(
    string Dataset,
    string Mode,
    string MountPath,
    VolumeState State,
    long FilesTotal,
    long FilesDone,
    long BytesTotal,
    long BytesDone,
    string? Error)
{
    /// <summary>FUSE: written files whose upload failed, kept staged and retried.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<FailedStagedFile>? FailedWrites { get; init; }
}

/// <summary>Thread-safe progress of one volume; workers update it, /status reads snapshots.</summary>
internal sealed class VolumeProgress(string dataset, string mode, string mountPath)
{
    private readonly Lock _lock = new();
    private VolumeState _state = VolumeState.Pending;
    private string? _error;
    private long _filesTotal;
    private long _filesDone;
    private long _bytesTotal;
    private long _bytesDone;

    public string Dataset { get; } = dataset;
    public string Mode { get; } = mode;
    public string MountPath { get; } = mountPath;

    public VolumeState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    public void SetState(VolumeState state, string? error = null)
    {
        lock (_lock)
        {
            _state = state;
            _error = error;
        }
    }

    public void SetPlan(long files, long bytes, long filesDone, long bytesDone)
    {
        Interlocked.Exchange(ref _filesTotal, files);
        Interlocked.Exchange(ref _bytesTotal, bytes);
        Interlocked.Exchange(ref _filesDone, filesDone);
        Interlocked.Exchange(ref _bytesDone, bytesDone);
    }

    public void FileDone(long bytes)
    {
        Interlocked.Increment(ref _filesDone);
        Interlocked.Add(ref _bytesDone, bytes);
    }

    public VolumeStatusEntry Snapshot()
    {
        lock (_lock)
        {
            return new VolumeStatusEntry(Dataset, Mode, MountPath, _state,
                Interlocked.Read(ref _filesTotal), Interlocked.Read(ref _filesDone),
                Interlocked.Read(ref _bytesTotal), Interlocked.Read(ref _bytesDone), _error);
        }
    }
}
