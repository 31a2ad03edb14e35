using System.Globalization;

namespace Fluid.Serverless.Sidecar.Metrics;

/// <summary>The sidecar's own instruments, registered once in the <see cref="MetricsRegistry"/> behind /metrics.</summary>
internal sealed class SidecarMetrics
{
    private static readonly double[] LatencyBoundsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly string[] StatusTexts = CreateStatusTexts();

    private readonly LabelledCounter _requests;
    private readonly LabelledHistogram _latency;
    private readonly LabelledCounter _responseBytes;
    private readonly LabelledCounter _remoteErrors;

    /// <summary>
    /// Creates the S3 and remote-error instruments. The other components' figures (datasets, cache, prefetch, live
    /// reload) are collectors that the admin side adds to the same registry (<c>Admin/MetricsCollectors</c>).
    /// </summary>
    public SidecarMetrics(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _requests = registry.CreateCounter("fluid_sidecar_s3_requests_total", "S3 requests by operation and HTTP status.", "operation", "status");
        _latency = registry.CreateHistogram("fluid_sidecar_s3_request_duration_seconds", "S3 request latency from first byte in to last byte out.", LatencyBoundsSeconds, "operation");
        _responseBytes = registry.CreateCounter("fluid_sidecar_s3_response_body_bytes_total", "Body bytes sent on the S3 endpoint by operation.", "operation");
        _remoteErrors = registry.CreateCounter("fluid_sidecar_remote_errors_total", "Requests that failed because a dataset's remote was unavailable and the bytes were not cached.", "dataset", "kind");
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
