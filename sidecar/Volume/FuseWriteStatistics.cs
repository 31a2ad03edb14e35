namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>Counters of files written through the FUSE view, for /metrics (shared by every mount of the sidecar).</summary>
internal sealed class FuseWriteStatistics
{
    private long _uploadsSucceeded;
    private long _uploadsFailed;
    private long _stagedBytes;

    public long UploadsSucceeded => Interlocked.Read(ref _uploadsSucceeded);

    public long UploadsFailed => Interlocked.Read(ref _uploadsFailed);

    /// <summary>Bytes of staged files on the cache volume now (counted against cache.stagingBytes).</summary>
    public long StagedBytes => Interlocked.Read(ref _stagedBytes);

    public void UploadSucceeded() => Interlocked.Increment(ref _uploadsSucceeded);

    public void UploadFailed() => Interlocked.Increment(ref _uploadsFailed);

    public void AddStaged(long bytes) => Interlocked.Add(ref _stagedBytes, bytes);
}

/// <summary>A staged file whose upload failed and that waits for the next retry; listed in /status.</summary>
internal sealed record FailedStagedFile(string Dataset, string Key, long Bytes, string Error);
