using System.Globalization;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>The sidecar's own instruments, registered once in the <see cref="MetricsRegistry"/> behind /metrics.</summary>
internal sealed class SidecarMetrics
{
    private static readonly double[] LatencyBoundsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly string[] StatusTexts = CreateStatusTexts();

    private readonly LabelledCounter _requests;
    private readonly LabelledHistogram _latency;
    private readonly LabelledCounter _responseBytes;
    private readonly LabelledCounter _remoteErrors;

    public SidecarMetrics(
        MetricsRegistry registry,
        IDatasetRegistry datasets,
        IBlockCache? cache = null,
        IPrefetchStatus? prefetch = null,
        ConfigFileWatcher? watcher = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(datasets);
        _requests = registry.CreateCounter("fluid_sidecar_s3_requests_total", "S3 requests by operation and HTTP status.", "operation", "status");
        _latency = registry.CreateHistogram("fluid_sidecar_s3_request_duration_seconds", "S3 request latency from first byte in to last byte out.", LatencyBoundsSeconds, "operation");
        _responseBytes = registry.CreateCounter("fluid_sidecar_s3_response_body_bytes_total", "Body bytes sent on the S3 endpoint by operation.", "operation");
        _remoteErrors = registry.CreateCounter("fluid_sidecar_remote_errors_total", "Requests that failed because a dataset's remote was unavailable and the bytes were not cached.", "dataset", "kind");

        registry.AddCollector(writer =>
        {
            var snapshot = datasets.Current;
            writer.Gauge("fluid_sidecar_datasets", "Datasets currently served.", snapshot.Datasets.Count);
            writer.Gauge("fluid_sidecar_config_generation", "Generation of the dataset set in use (grows on every live config change).", snapshot.Generation);
        });

        if (cache is not null)
        {
            registry.AddCollector(writer => WriteCache(writer, cache.GetStatistics()));
        }

        if (prefetch is not null)
        {
            registry.AddCollector(writer => PrefetchMetrics.Write(writer, prefetch.Snapshot()));
        }

        if (watcher is not null)
        {
            registry.AddCollector(writer => ConfigReloadMetrics.Write(writer, watcher.Status));
        }
    }

    public void RecordRequest(string operation, int status, double seconds, long bodyBytes)
    {
        _requests.Increment(new LabelValues(operation, StatusText(status)));
        _latency.Observe(new LabelValues(operation), seconds);
        if (bodyBytes > 0)
        {
            _responseBytes.Increment(new LabelValues(operation), bodyBytes);
        }
    }

    public void RecordRemoteError(string dataset, string kind) => _remoteErrors.Increment(new LabelValues(dataset, kind));

    public long RequestCount(string operation, int status) => _requests.Get(new LabelValues(operation, StatusText(status)));

    private static void WriteCache(MetricsWriter writer, CacheStatistics statistics)
    {
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

    private static string StatusText(int status) =>
        (uint)(status - 100) < (uint)StatusTexts.Length ? StatusTexts[status - 100] : status.ToString(CultureInfo.InvariantCulture);

    private static string[] CreateStatusTexts()
    {
        var texts = new string[500];
        for (var i = 0; i < texts.Length; i++)
        {
            texts[i] = (i + 100).ToString(CultureInfo.InvariantCulture);
        }

        return texts;
    }
}
