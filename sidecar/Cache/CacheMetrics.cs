using Fluid.Serverless.Sidecar.Metrics;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>Block cache figures in Prometheus form, read at scrape time from <see cref="IBlockCache.GetStatistics"/>.</summary>
internal static class CacheMetrics
{
    public static void Write(MetricsWriter writer, CacheStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(statistics);
        writer.Gauge("fluid_sidecar_cache_blocks", "Blocks in the disk cache.", statistics.Blocks);
        writer.Gauge("fluid_sidecar_cache_used_bytes", "Bytes used by cached blocks.", statistics.UsedBytes);
        writer.Gauge("fluid_sidecar_cache_quota_bytes", "Byte quota of the block cache.", statistics.QuotaBytes);
        writer.Counter("fluid_sidecar_cache_hits_total", "Block reads served from disk.", statistics.Hits);
        writer.Counter("fluid_sidecar_cache_misses_total", "Block reads fetched from the remote.", statistics.Misses);
        writer.Counter("fluid_sidecar_cache_evictions_total", "Blocks evicted under the quota or free-space floor.", statistics.Evictions);
        writer.Counter("fluid_sidecar_cache_corrupt_blocks_dropped_total", "Blocks whose CRC did not match; dropped and fetched again.", statistics.CorruptBlocksDropped);
        writer.Counter("fluid_sidecar_cache_passthrough_fills_total", "Blocks served without being stored (disk full or over quota).", statistics.PassThroughFills);
        writer.Gauge("fluid_sidecar_cache_index_loaded", "1 once the cache index finished loading.", statistics.IndexLoaded ? 1 : 0);
    }
}
