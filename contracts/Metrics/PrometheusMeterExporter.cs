using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace Fluid.Serverless.Contracts.Metrics;

/// <summary>
/// The Prometheus text exposition (format 0.0.4) of a process's own <see cref="Meter"/>s, read through a
/// <see cref="MeterListener"/>. Components record with the BCL's instruments, so dotnet-counters and an OpenTelemetry
/// SDK can read the same figures; this keeps the /metrics endpoint and its series names without the OpenTelemetry SDK
/// (which costs start-up time and resident memory the sidecar's footprint targets do not have room for; see
/// docs/ARCHITECTURE.md). It is shared by the sidecar and the injector because the series names are part of what
/// dashboards and alerts depend on.
/// <para>
/// The instrument's name is the series name as written (counters carry their own <c>_total</c>), its description the
/// HELP text. Counters and histograms are summed per tag set as they are recorded; observable instruments are read on
/// every scrape. A series has at most three tags, given in the same order on every record.
/// </para>
/// </summary>
public sealed class PrometheusMeterExporter : IDisposable
{
    /// <summary>OpenTelemetry's default explicit bounds, for histograms that give no bucket advice.</summary>
    private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener;
    private readonly Func<Meter, bool> _includes;
    private readonly List<InstrumentSeries> _instruments = [];
    private readonly Lock _gate = new();

    /// <param name="includes">Which meters to export: by name, and by scope so two hosts in one process stay apart.</param>
    public PrometheusMeterExporter(Func<Meter, bool> includes)
    {
        ArgumentNullException.ThrowIfNull(includes);
        _includes = includes;
        _listener = new MeterListener { InstrumentPublished = OnInstrumentPublished };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentSeries)state!).Add(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentSeries)state!).Add(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentSeries)state!).Add(value, tags));
        _listener.Start();
    }

    /// <summary>Exports the meters a meter factory creates under the given names (the factory is their scope).</summary>
    public static PrometheusMeterExporter ForScope(object? scope, params string[] meterNames) =>
        new(meter => ReferenceEquals(meter.Scope, scope) && Array.IndexOf(meterNames, meter.Name) >= 0);

    /// <summary>Writes every exported instrument: observable ones are read now, the others as recorded so far.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        InstrumentSeries[] instruments;
        lock (_gate)
        {
            instruments = [.. _instruments];
            foreach (var instrument in instruments)
            {
                if (instrument.IsObservable)
                {
                    instrument.Clear();
                }
            }

            // Observable callbacks report into the listener, which adds into the series just cleared; under the lock so
            // two scrapes at once do not add into each other's.
            _listener.RecordObservableInstruments();
            var writer = new PrometheusTextWriter(output);
            foreach (var instrument in instruments)
            {
                instrument.Write(writer);
            }
        }
    }

    public string ToText()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        WriteTo(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void Dispose() => _listener.Dispose();

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!_includes(instrument.Meter))
        {
            return;
        }

        var series = new InstrumentSeries(instrument, BoundsOf(instrument));
        lock (_gate)
        {
            _instruments.Add(series);
        }

        listener.EnableMeasurementEvents(instrument, series);
    }

    private static double[]? BoundsOf(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries is { } bounds ? [.. bounds] : DefaultBounds,
        Histogram<long> h => h.Advice?.HistogramBucketBoundaries is { } bounds ? [.. bounds.Select(b => (double)b)] : DefaultBounds,
        Histogram<int> h => h.Advice?.HistogramBucketBoundaries is { } bounds ? [.. bounds.Select(b => (double)b)] : DefaultBounds,
        _ => null,
    };

    /// <summary>The series of one instrument, by tag values.</summary>
    private sealed class InstrumentSeries(Instrument instrument, double[]? bounds)
    {
        private readonly ConcurrentDictionary<LabelValues, Series> _series = new();
        private readonly string _type = instrument switch
        {
            _ when bounds is not null => "histogram",
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => "counter",
            _ => "gauge",
        };

        public bool IsObservable => instrument.IsObservable;

        public void Clear() => _series.Clear();

        public void Add(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Get(tags);
            if (bounds is not null)
            {
                series.Observe(bounds, value);
            }
            else
            {
                Interlocked.Add(ref series.Long, value);
            }
        }

        public void Add(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Get(tags);
            if (bounds is not null)
            {
                series.Observe(bounds, value);
            }
            else
            {
                series.AddDouble(value);
            }
        }

        public void Write(PrometheusTextWriter writer)
        {
            var name = instrument.Name;
            writer.Header(name, instrument.Description ?? name, _type);
            foreach (var (labels, series) in _series)
            {
                if (bounds is null)
                {
                    writer.Sample(name, series.LabelNames, labels, Interlocked.Read(ref series.Long) + Volatile.Read(ref series.Double));
                    continue;
                }

                var withLe = new string[series.LabelNames.Length + 1];
                series.LabelNames.CopyTo(withLe, 0);
                withLe[^1] = "le";
                long cumulative = 0;
                for (var i = 0; i <= bounds.Length; i++)
                {
                    cumulative += Interlocked.Read(ref series.Counts![i]);
                    var le = i < bounds.Length ? bounds[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
                    writer.Sample(name + "_bucket", withLe, labels.With(series.LabelNames.Length, le), cumulative);
                }

                writer.Sample(name + "_sum", series.LabelNames, labels, Volatile.Read(ref series.Double));
                writer.Sample(name + "_count", series.LabelNames, labels, cumulative);
            }
        }

        private Series Get(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = LabelValues.From(tags);
            if (_series.TryGetValue(labels, out var series))
            {
                return series;
            }

            var names = new string[Math.Min(tags.Length, LabelValues.MaxLabels)];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = tags[i].Key;
            }

            return _series.GetOrAdd(labels, new Series(names, bounds is null ? null : new long[bounds.Length + 1]));
        }
    }

    private sealed class Series(string[] labelNames, long[]? counts)
    {
        public readonly string[] LabelNames = labelNames;
        public readonly long[]? Counts = counts;
        public long Long;

        /// <summary>A double counter's or gauge's value, or a histogram's sum.</summary>
        public double Double;

        public void Observe(double[] bounds, double value)
        {
            var bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket])
            {
                bucket++;
            }

            // Counts per bucket (not cumulative) so an observation is one increment; cumulated when written.
            Interlocked.Increment(ref Counts![bucket]);
            AddDouble(value);
        }

        public void AddDouble(double value)
        {
            double current, updated;
            do
            {
                current = Volatile.Read(ref Double);
                updated = current + value;
            }
            while (Interlocked.CompareExchange(ref Double, updated, current) != current);
        }
    }
}
