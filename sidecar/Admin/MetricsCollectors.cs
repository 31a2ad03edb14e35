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
        ConfigFileWatcher? watcher = null)
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

        if (watcher is not null)
        {
            ConfigReloadMetrics.Register(meter, () => watcher.Status);
        }
    }
}
