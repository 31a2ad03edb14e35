using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>Settings of <see cref="DiskBlockCache"/>; <see cref="From"/> maps the sidecar config onto them.</summary>
internal sealed record DiskBlockCacheOptions
{
    /// <summary>Largest block the cache accepts: blocks are pooled buffers and whole-block reads.</summary>
    public const int MaxBlockSize = 64 * 1024 * 1024;

    public required string Directory { get; init; }
    public long QuotaBytes { get; init; } = SidecarDefaults.CacheQuotaBytes;
    public int BlockSize { get; init; } = SidecarDefaults.BlockSizeBytes;
    public long MinFreeBytes { get; init; } = SidecarDefaults.MinFreeBytes;

    /// <summary>Concurrent remote fetches for reads a client waits on.</summary>
    public int OnDemandFetchConcurrency { get; init; } = 32;

    /// <summary>Concurrent remote fetches for sequential read-ahead.</summary>
    public int ReadAheadFetchConcurrency { get; init; } = 16;

    /// <summary>Concurrent remote fetches for prefetch (warm-up).</summary>
    public int PrefetchFetchConcurrency { get; init; } = SidecarDefaults.PrefetchWorkers;

    /// <summary>Block files kept open between hits (0 opens the file on every hit).</summary>
    public int OpenFilesKept { get; init; } = BlockFileStore.DefaultOpenFilesKept;

    /// <summary>
    /// How long a span read in order waits for its reader to let go of a shared-tier block handed over in memory before
    /// it stores the rest of its blocks instead (<see cref="IBlockCache.FetchRunInOrder"/>): a 4 MiB block is copied
    /// into a response in a millisecond or two, so only a reader that has stopped or fallen far behind waits this long.
    /// </summary>
    public TimeSpan TierHandOffPatience { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When true the index scan waits for <see cref="DiskBlockCache.StartIndexLoad"/> (a host may start it once
    /// the process is ready; reads are correct either way). When false it starts with the cache.
    /// </summary>
    public bool DeferIndexLoad { get; init; }

    public static DiskBlockCacheOptions From(CacheConfig cache, PrefetchConfig? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var options = new DiskBlockCacheOptions
        {
            Directory = cache.Directory,
            QuotaBytes = cache.QuotaBytes,
            BlockSize = cache.BlockSizeBytes,
            MinFreeBytes = cache.MinFreeBytes,
            PrefetchFetchConcurrency = prefetch?.Workers ?? SidecarDefaults.PrefetchWorkers,
        };
        options.Validate();
        return options;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the config field that is out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("cache.directory is empty; expected a directory path for the block cache", nameof(Directory));
        }

        if (BlockSize is <= 0 or > MaxBlockSize)
        {
            throw new ArgumentException($"cache.blockSizeBytes is {BlockSize}; expected 1..{MaxBlockSize}", nameof(BlockSize));
        }

        if (QuotaBytes < 0)
        {
            throw new ArgumentException($"cache.quotaBytes is {QuotaBytes}; expected 0 or more (0 = pass-through, nothing stored)", nameof(QuotaBytes));
        }

        if (MinFreeBytes < 0)
        {
            throw new ArgumentException($"cache.minFreeBytes is {MinFreeBytes}; expected 0 or more", nameof(MinFreeBytes));
        }
    }
}
