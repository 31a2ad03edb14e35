using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// What a FUSE view needs to accept writes: the staging directory on the cache volume (one subdirectory per dataset,
/// <c>&lt;cache.directory&gt;/fuse-staging/&lt;dataset&gt;/</c>), the byte budget staged files share with S3 upload
/// staging (<c>cache.stagingBytes</c>), the block cache whose blocks and metadata a write makes stale, the counters,
/// and how often a failed upload is retried. Without it a view is read-only.
/// </summary>
internal sealed class FuseStaging(string directory, IStagingBudget budget, IBlockCache? cache, FuseWriteStatistics statistics)
{
    public string Directory { get; } = Path.GetFullPath(directory);

    public IStagingBudget Budget { get; } = budget;

    public IBlockCache? Cache { get; } = cache;

    public FuseWriteStatistics Statistics { get; } = statistics;

    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Opt-in write-back (config fuse.writeBack): the delay from close to upload; null = close waits for the upload.</summary>
    public TimeSpan? WriteBackDelay { get; init; }

    /// <summary>Write-back: most bytes closed and waiting; a close past it uploads at once.</summary>
    public long WriteBackMaxBacklogBytes { get; init; }

    public string DatasetDirectory(string dataset) => Path.Combine(Directory, dataset);
}
