using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>
/// Adds the scrape-time figures of every component to the registry behind /metrics: the datasets served, the block
/// cache, prefetch and live reload. Each component formats its own series; this only connects them.
/// </summary>
internal static class MetricsCollectors
{
    public static void Register(
        MetricsRegistry registry,
        IDatasetRegistry datasets,
        IBlockCache? cache = null,
        IPrefetchStatus? prefetch = null,
        ConfigFileWatcher? watcher = null,
        Volume.IVolumeStatus? volumes = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(datasets);
        registry.AddCollector(writer =>
        {
            var snapshot = datasets.Current;
            writer.Gauge("fluid_sidecar_datasets", "Datasets currently served.", snapshot.Datasets.Count);
            writer.Gauge("fluid_sidecar_config_generation", "Generation of the dataset set in use (grows on every live config change).", snapshot.Generation);
        });

        if (cache is not null)
        {
            registry.AddCollector(writer => CacheMetrics.Write(writer, cache.GetStatistics()));
        }

        if (prefetch is not null)
        {
            registry.AddCollector(writer => PrefetchMetrics.Write(writer, prefetch.Snapshot()));
        }

        if (volumes?.WriteStatistics is { } writes)
        {
            registry.AddCollector(writer =>
            {
                writer.Counter("fluid_sidecar_fuse_write_uploads_ok_total", "Files written through the FUSE view and uploaded.", writes.UploadsSucceeded);
                writer.Counter("fluid_sidecar_fuse_write_uploads_failed_total", "Uploads of files written through the FUSE view that failed (close/fsync answered EIO; the file stays staged and is retried).", writes.UploadsFailed);
                writer.Gauge("fluid_sidecar_fuse_staged_bytes", "Bytes of files written through the FUSE view staged on the cache volume now.", writes.StagedBytes);
            });
        }

        if (watcher is not null)
        {
            registry.AddCollector(writer => ConfigReloadMetrics.Write(writer, watcher.Status));
        }
    }
}
