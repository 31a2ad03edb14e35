using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>Block cache figures as observable instruments, read at collection time from <see cref="IBlockCache.GetStatistics"/>.</summary>
internal static class CacheMetrics
{
    public static void Register(SidecarMeter meter, IBlockCache cache)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(cache);
        var m = meter.Meter;
        m.CreateObservableGauge("fluid_sidecar_cache_blocks", () => cache.GetStatistics().Blocks, description: "Blocks in the disk cache.");
        m.CreateObservableGauge("fluid_sidecar_cache_used_bytes", () => cache.GetStatistics().UsedBytes, "By", "Bytes used by cached blocks.");
        m.CreateObservableGauge("fluid_sidecar_cache_quota_bytes", () => cache.GetStatistics().QuotaBytes, "By", "Byte quota of the block cache.");
        m.CreateObservableCounter("fluid_sidecar_cache_hits_total", () => cache.GetStatistics().Hits, description: "Block reads served from disk.");
        m.CreateObservableCounter("fluid_sidecar_cache_misses_total", () => cache.GetStatistics().Misses, description: "Block reads fetched from the remote.");
        m.CreateObservableCounter("fluid_sidecar_cache_evictions_total", () => cache.GetStatistics().Evictions, description: "Blocks evicted under the quota or free-space floor.");
        m.CreateObservableCounter("fluid_sidecar_cache_corrupt_blocks_dropped_total", () => cache.GetStatistics().CorruptBlocksDropped, description: "Blocks whose CRC did not match; dropped and fetched again.");
        m.CreateObservableCounter("fluid_sidecar_cache_passthrough_fills_total", () => cache.GetStatistics().PassThroughFills, description: "Blocks served without being stored (disk full or over quota).");
        m.CreateObservableGauge("fluid_sidecar_cache_open_block_files", () => cache.GetStatistics().OpenBlockFiles, description: "Block files kept open between hits (at most the open-file budget).");
        m.CreateObservableGauge("fluid_sidecar_cache_index_loaded", () => cache.GetStatistics().IndexLoaded ? 1 : 0, description: "1 once the cache index finished loading.");
        m.CreateObservableCounter("fluid_sidecar_cache_remote_bytes_total", () => cache.GetStatistics().RemoteBytes, "By", "Bytes fetched from the remote into the cache.");
        m.CreateObservableCounter("fluid_sidecar_cache_remote_fetches_total", () => cache.GetStatistics().RemoteFetches, description: "Blocks fetched from the remote (one per single flight, however many readers waited).");
        m.CreateObservableCounter("fluid_sidecar_cache_remote_requests_total", () => cache.GetStatistics().RemoteRequests, description: "Remote requests made for blocks (a run of adjacent blocks in one ranged GET counts once).");
        m.CreateObservableCounter("fluid_sidecar_cache_single_flight_joins_total", () => cache.GetStatistics().SingleFlightJoins, description: "Misses that joined a fetch already in flight.");
        m.CreateObservableCounter("fluid_sidecar_cache_shared_tier_hits_total", () => cache.GetStatistics().SharedTierHits, description: "Blocks missing on disk that came from the shared tier instead of the remote.");
        m.CreateObservableCounter("fluid_sidecar_cache_shared_tier_handed_over_total", () => cache.GetStatistics().SharedTierHandedOver, description: "Shared tier hits served to a reader from memory without a local copy (a block's first hit in this pod).");
    }
}
