using System.Diagnostics.Metrics;
using System.Globalization;

namespace Fluid.Serverless.Sidecar.Metrics;

/// <summary>The S3 endpoint's instruments and the remote-error counter, in the <see cref="SidecarMeter"/>.</summary>
internal sealed class SidecarMetrics
{
    private static readonly double[] LatencyBoundsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly string[] StatusTexts = CreateStatusTexts();

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _responseBytes;
    private readonly Counter<long> _remoteErrors;

    /// <summary>
    /// Creates the S3 and remote-error instruments. The other components' figures (datasets, cache, prefetch, live
    /// reload) are observable instruments that the admin side adds to the same meter (<c>Admin/MetricsCollectors</c>).
    /// </summary>
    public SidecarMetrics(SidecarMeter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        var m = meter.Meter;
        _requests = m.CreateCounter<long>("fluid_sidecar_s3_requests_total", description: "S3 requests by operation and HTTP status.");
        _latency = m.CreateHistogram(
            "fluid_sidecar_s3_request_duration_seconds",
            unit: "s",
            description: "S3 request latency from first byte in to last byte out.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBoundsSeconds });
        _responseBytes = m.CreateCounter<long>("fluid_sidecar_s3_response_body_bytes_total", unit: "By", description: "Body bytes sent on the S3 endpoint by operation.");
        _remoteErrors = m.CreateCounter<long>("fluid_sidecar_remote_errors_total", description: "Requests that failed because a dataset's remote was unavailable and the bytes were not cached.");
    }

    public void RecordRequest(string operation, int status, double seconds, long bodyBytes)
    {
        _requests.Add(1, new("operation", operation), new("status", StatusText(status)));
        _latency.Record(seconds, new KeyValuePair<string, object?>("operation", operation));
        if (bodyBytes > 0)
        {
            _responseBytes.Add(bodyBytes, new KeyValuePair<string, object?>("operation", operation));
        }
    }

    public void RecordRemoteError(string dataset, string kind) => _remoteErrors.Add(1, new("dataset", dataset), new("kind", kind));

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
