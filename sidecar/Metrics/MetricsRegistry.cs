using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Sidecar.Metrics;

/// <summary>
/// A small Prometheus registry: labelled counters and histograms updated lock-free on the request path, plus
/// collectors that read figures owned elsewhere (the block cache's statistics) at scrape time. It writes the text
/// exposition format 0.0.4. Hand-written rather than a package because it is ~200 lines, allocation-free per
/// update, AOT clean and adds nothing to start-up; the packages either pull in OpenTelemetry's SDK or reflection.
/// </summary>
internal sealed class MetricsRegistry
{
    private readonly List<IMetric> _metrics = [];
    private readonly List<Action<MetricsWriter>> _collectors = [];
    private readonly Lock _gate = new();

    public LabelledCounter CreateCounter(string name, string help, params string[] labelNames)
    {
        var counter = new LabelledCounter(name, help, labelNames);
        Register(counter);
        return counter;
    }

    public LabelledHistogram CreateHistogram(string name, string help, double[] bucketBounds, params string[] labelNames)
    {
        var histogram = new LabelledHistogram(name, help, bucketBounds, labelNames);
        Register(histogram);
        return histogram;
    }

    /// <summary>A collector writes gauges or counters it reads from elsewhere at scrape time.</summary>
    public void AddCollector(Action<MetricsWriter> collector)
    {
        lock (_gate)
        {
            _collectors.Add(collector);
        }
    }

    public void WriteTo(IBufferWriter<byte> output)
    {
        var writer = new MetricsWriter(output);
        IMetric[] metrics;
        Action<MetricsWriter>[] collectors;
        lock (_gate)
        {
            metrics = [.. _metrics];
            collectors = [.. _collectors];
        }

        foreach (var metric in metrics)
        {
            metric.Write(writer);
        }

        foreach (var collector in collectors)
        {
            collector(writer);
        }
    }

    private void Register(IMetric metric)
    {
        lock (_gate)
        {
            _metrics.Add(metric);
        }
    }

    internal interface IMetric
    {
        void Write(MetricsWriter writer);
    }
}

/// <summary>Label values of one series; up to three labels is all the sidecar needs.</summary>
internal readonly record struct LabelValues(string? First, string? Second = null, string? Third = null)
{
    public string? this[int index] => index switch { 0 => First, 1 => Second, _ => Third };
}

internal sealed class LabelledCounter(string name, string help, string[] labelNames) : MetricsRegistry.IMetric
{
    private readonly ConcurrentDictionary<LabelValues, StrongBoxLong> _series = new();

    public void Increment(LabelValues labels, long by = 1) =>
        Interlocked.Add(ref _series.GetOrAdd(labels, static _ => new StrongBoxLong()).Value, by);

    public long Get(LabelValues labels) => _series.TryGetValue(labels, out var box) ? Interlocked.Read(ref box.Value) : 0;

    void MetricsRegistry.IMetric.Write(MetricsWriter writer)
    {
        writer.Header(name, help, "counter");
        foreach (var (labels, box) in _series)
        {
            writer.Sample(name, labelNames, labels, Interlocked.Read(ref box.Value));
        }
    }

    private sealed class StrongBoxLong
    {
        public long Value;
    }
}

/// <summary>A histogram per label set with fixed bucket bounds (seconds, bytes…).</summary>
internal sealed class LabelledHistogram(string name, string help, double[] bucketBounds, string[] labelNames) : MetricsRegistry.IMetric
{
    private readonly ConcurrentDictionary<LabelValues, Series> _series = new();

    public void Observe(LabelValues labels, double value)
    {
        var series = _series.GetOrAdd(labels, static (_, count) => new Series(count), bucketBounds.Length);
        var bucket = 0;
        while (bucket < bucketBounds.Length && value > bucketBounds[bucket])
        {
            bucket++;
        }

        // Counts per bucket (not cumulative) so an observation is one increment; cumulated when written.
        Interlocked.Increment(ref series.Counts[bucket]);
        double sum, updated;
        do
        {
            sum = Volatile.Read(ref series.Sum);
            updated = sum + value;
        }
        while (Interlocked.CompareExchange(ref series.Sum, updated, sum) != sum);
    }

    public long Count(LabelValues labels)
    {
        if (!_series.TryGetValue(labels, out var series))
        {
            return 0;
        }

        long total = 0;
        for (var i = 0; i < series.Counts.Length; i++)
        {
            total += Interlocked.Read(ref series.Counts[i]);
        }

        return total;
    }

    void MetricsRegistry.IMetric.Write(MetricsWriter writer)
    {
        writer.Header(name, help, "histogram");
        var bucketName = name + "_bucket";
        var labelNamesWithLe = new string[labelNames.Length + 1];
        labelNames.CopyTo(labelNamesWithLe, 0);
        labelNamesWithLe[^1] = "le";
        foreach (var (labels, series) in _series)
        {
            long cumulative = 0;
            for (var i = 0; i <= bucketBounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref series.Counts[i]);
                var le = i < bucketBounds.Length ? bucketBounds[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
                writer.Sample(bucketName, labelNamesWithLe, WithLast(labels, labelNames.Length, le), cumulative);
            }

            writer.Sample(name + "_sum", labelNames, labels, Volatile.Read(ref series.Sum));
            writer.Sample(name + "_count", labelNames, labels, cumulative);
        }
    }

    private static LabelValues WithLast(LabelValues labels, int count, string value) => count switch
    {
        0 => new LabelValues(value),
        1 => labels with { Second = value },
        _ => labels with { Third = value },
    };

    private sealed class Series(int bounds)
    {
        public readonly long[] Counts = new long[bounds + 1];
        public double Sum;
    }
}

/// <summary>Writes the Prometheus text format: HELP/TYPE lines and samples with escaped label values.</summary>
internal sealed class MetricsWriter(IBufferWriter<byte> output)
{
    public void Header(string name, string help, string type)
    {
        Write($"# HELP {name} {help}\n# TYPE {name} {type}\n");
    }

    public void Gauge(string name, string help, double value)
    {
        Header(name, help, "gauge");
        Sample(name, [], default, value);
    }

    public void Counter(string name, string help, double value)
    {
        Header(name, help, "counter");
        Sample(name, [], default, value);
    }

    public void Sample(string name, string[] labelNames, LabelValues labels, double value)
    {
        var line = new StringBuilder(name);
        if (labelNames.Length > 0)
        {
            line.Append('{');
            for (var i = 0; i < labelNames.Length; i++)
            {
                if (i > 0)
                {
                    line.Append(',');
                }

                line.Append(labelNames[i]).Append("=\"");
                foreach (var c in labels[i] ?? "")
                {
                    _ = c switch
                    {
                        '\\' => line.Append("\\\\"),
                        '"' => line.Append("\\\""),
                        '\n' => line.Append("\\n"),
                        _ => line.Append(c),
                    };
                }

                line.Append('"');
            }

            line.Append('}');
        }

        line.Append(' ');
        line.Append(double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture));
        line.Append('\n');
        Write(line.ToString());
    }

    private void Write(string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
