using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts.Metrics;

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
/// Admissions by outcome and a latency histogram, in the injector's <see cref="Meter"/> (<see cref="MeterNames.Injector"/>).
/// Outcomes are lock-free counters observed at collection time, so every outcome shows, zero included; latency is a
/// histogram with the bucket bounds it always had.
/// </summary>
internal sealed class AdmissionMetrics
{
    private static readonly double[] BucketBounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    private static readonly string[] OutcomeLabels = ["injected", "skipped", "denied", "not_pod", "bad_request", "error"];

    private readonly long[] _outcomes = new long[OutcomeLabels.Length];
    private readonly Histogram<double> _duration;

    public AdmissionMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterNames.Injector);
        meter.CreateObservableCounter("fluid_injector_admissions_total", ObserveOutcomes, description: "Admission requests by outcome.");
        _duration = meter.CreateHistogram(
            "fluid_injector_admission_duration_seconds",
            unit: "s",
            description: "Time to answer an admission request.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = BucketBounds });
    }

    public void Record(AdmissionOutcome outcome, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _outcomes[(int)outcome]);
        _duration.Record(elapsed.TotalSeconds);
    }

    public long Count(AdmissionOutcome outcome) => Interlocked.Read(ref _outcomes[(int)outcome]);

    private IEnumerable<Measurement<long>> ObserveOutcomes()
    {
        for (var i = 0; i < OutcomeLabels.Length; i++)
        {
            yield return new Measurement<long>(Interlocked.Read(ref _outcomes[i]), new KeyValuePair<string, object?>("outcome", OutcomeLabels[i]));
        }
    }
}
