using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>
/// Adds the observable figures of every component to the sidecar meter: the datasets served, the block cache,
/// prefetch and live reload. Each component defines its own instruments; this only connects them.
/// </summary>
internal static class MetricsCollectors
{
    public static void Register(
        SidecarMeter meter,
        IDatasetRegistry datasets,
        IBlockCache? cache = null,
        IPrefetchStatus? prefetch = null,
        ConfigFileWatcher? watcher = null,
        Volume.IVolumeStatus? volumes = null)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(datasets);
        meter.Meter.CreateObservableGauge("fluid_sidecar_datasets", () => datasets.Current.Datasets.Count, description: "Datasets currently served.");
        meter.Meter.CreateObservableGauge("fluid_sidecar_config_generation", () => datasets.Current.Generation, description: "Generation of the dataset set in use (grows on every live config change).");

        if (cache is not null)
        {
            CacheMetrics.Register(meter, cache);
        }

        if (prefetch is not null)
        {
            PrefetchMetrics.Register(meter, prefetch);
        }

        if (volumes is not null)
        {
            // Read at each scrape: the statistics exist once a writable FUSE view is up.
            meter.Meter.CreateObservableCounter("fluid_sidecar_fuse_write_uploads_ok_total", () => volumes.WriteStatistics?.UploadsSucceeded ?? 0, description: "Files written through the FUSE view and uploaded.");
            meter.Meter.CreateObservableCounter("fluid_sidecar_fuse_write_uploads_failed_total", () => volumes.WriteStatistics?.UploadsFailed ?? 0, description: "Uploads of files written through the FUSE view that failed (close/fsync answered EIO; the file stays staged and is retried).");
            meter.Meter.CreateObservableGauge("fluid_sidecar_fuse_staged_bytes", () => volumes.WriteStatistics?.StagedBytes ?? 0, unit: "By", description: "Bytes of files written through the FUSE view staged on the cache volume now.");
        }

        if (watcher is not null)
        {
            ConfigReloadMetrics.Register(meter, () => watcher.Status);
        }
    }
}
