using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Injector.Admission;

/// <summary>Outcomes counted on /metrics.</summary>
internal enum AdmissionOutcome
{
    Injected,
    Skipped,
    Denied,
    NotPod,
    BadRequest,
    Error,
}

/// <summary>
/// Admissions by outcome and a latency histogram, exposed in the Prometheus text format. Lock-free counters
/// (Interlocked) keep the admission path cheap; the exposition is small enough to write by hand.
/// </summary>
internal sealed class AdmissionMetrics
{
    private static readonly double[] BucketBounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    private static readonly string[] OutcomeLabels = ["injected", "skipped", "denied", "not_pod", "bad_request", "error"];

    private readonly long[] _outcomes = new long[OutcomeLabels.Length];
    private readonly long[] _buckets = new long[BucketBounds.Length];
    private long _count;
    private long _sumMicroseconds;

    public void Record(AdmissionOutcome outcome, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _outcomes[(int)outcome]);
        var seconds = elapsed.TotalSeconds;
        for (var i = 0; i < BucketBounds.Length; i++)
        {
            if (seconds <= BucketBounds[i])
            {
                Interlocked.Increment(ref _buckets[i]);
                break;
            }
        }

        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicroseconds, (long)(elapsed.TotalMilliseconds * 1000));
    }

    public long Count(AdmissionOutcome outcome) => Interlocked.Read(ref _outcomes[(int)outcome]);

    public string ToPrometheusText()
    {
        var text = new StringBuilder(2048);
        text.Append("# HELP fluid_injector_admissions_total Admission requests by outcome.\n");
        text.Append("# TYPE fluid_injector_admissions_total counter\n");
        for (var i = 0; i < OutcomeLabels.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"fluid_injector_admissions_total{{outcome=\"{OutcomeLabels[i]}\"}} {Interlocked.Read(ref _outcomes[i])}\n");
        }

        text.Append("# HELP fluid_injector_admission_duration_seconds Time to answer an admission request.\n");
        text.Append("# TYPE fluid_injector_admission_duration_seconds histogram\n");
        long cumulative = 0;
        for (var i = 0; i < BucketBounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _buckets[i]);
            text.Append(CultureInfo.InvariantCulture, $"fluid_injector_admission_duration_seconds_bucket{{le=\"{BucketBounds[i]}\"}} {cumulative}\n");
        }

        var count = Interlocked.Read(ref _count);
        text.Append(CultureInfo.InvariantCulture, $"fluid_injector_admission_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n");
        text.Append(CultureInfo.InvariantCulture, $"fluid_injector_admission_duration_seconds_sum {Interlocked.Read(ref _sumMicroseconds) / 1e6}\n");
        text.Append(CultureInfo.InvariantCulture, $"fluid_injector_admission_duration_seconds_count {count}\n");
        return text.ToString();
    }
}
