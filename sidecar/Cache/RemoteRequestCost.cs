using System.Diagnostics;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// What one request to a remote costs next to the bytes it carries, learned from the spans sent to it: the time to
/// the first byte (a remote's per-request cost: latency, and for moto the whole object built for every ranged GET)
/// and the time per byte of one stream's body. From them, <see cref="WorthwhileSpanBytes"/>: the shortest request
/// whose first-byte wait is at most a fifth of its time. A remote that paces each stream (S3: ~30 ms to the first
/// byte, ~80 MB/s a stream) is worth ~10 MB, so a window is cut into parallel streams as before; a remote whose first
/// byte costs half a second and whose body then streams at memory speed is worth more than any window, so it gets
/// one long request per window, as rclone's doubling chunks do.
/// </summary>
/// <param name="shortestSampleBytes">Bodies shorter than this say little about a stream's rate (a few TCP windows), so they are not learned from.</param>
internal sealed class RemoteRequestCost(long shortestSampleBytes = RemoteRequestCost.DefaultShortestSampleBytes)
{
    /// <summary>Bodies shorter than this teach no rate.</summary>
    public long ShortestSampleBytes => shortestSampleBytes;

    /// <summary>
    /// A request is worth sending when its body takes at least this many times its first-byte wait (first byte ≤ 1/5
    /// of the request's time).
    /// </summary>
    internal const int BodyToFirstByte = 4;

    /// <summary>The shortest body learned from unless told otherwise: 1 MiB.</summary>
    internal const long DefaultShortestSampleBytes = 1024 * 1024;

    /// <summary>Weight of the newest request in the moving averages: a few requests follow a remote that changed, one outlier does not.</summary>
    private const double NewestWeight = 0.25;

    /// <summary>
    /// Weight of a first-byte wait longer than the average: waits rise fast and fall slowly. Underrating a wait sends
    /// a remote that charges per request a window of short spans at once (each paying the wait); overrating one costs
    /// a paced remote some streams until the next few answers bring it down.
    /// </summary>
    private const double LongerWaitWeight = 0.5;

    /// <summary>The fastest stream assumed (10 GB/s): a body that arrived in no measurable time does not make the rate infinite.</summary>
    private const double FewestSecondsPerByte = 1e-10;

    private readonly Lock _lock = new();
    private double _firstByteSeconds;
    private double _secondsPerByte;
    private bool _firstByteLearned;
    private bool _rateLearned;

    /// <summary>
    /// The shortest span worth one request to this remote, in bytes; 0 until a request long enough to learn from has
    /// ended.
    /// </summary>
    public long WorthwhileSpanBytes
    {
        get
        {
            lock (_lock)
            {
                if (!_firstByteLearned || !_rateLearned)
                {
                    return 0;
                }

                var bytes = BodyToFirstByte * _firstByteSeconds / Math.Max(_secondsPerByte, FewestSecondsPerByte);
                return bytes >= long.MaxValue / 2 ? long.MaxValue / 2 : (long)bytes;
            }
        }
    }

    /// <summary>Averaged time to the first byte of a request (zero until learned).</summary>
    public TimeSpan FirstByte
    {
        get
        {
            lock (_lock)
            {
                return TimeSpan.FromSeconds(_firstByteSeconds);
            }
        }
    }

    /// <summary>
    /// Learns from one request that carried <paramref name="bytes"/>: <paramref name="firstByte"/> after it was sent,
    /// then <paramref name="body"/> for the rest.
    /// </summary>
    public void Observe(TimeSpan firstByte, long bytes, TimeSpan body)
    {
        ObserveFirstByte(firstByte);
        ObserveBody(bytes, body);
    }

    /// <summary>Learns a request's wait for its first byte, the moment it is known (any request, short or long, pays it).</summary>
    public void ObserveFirstByte(TimeSpan firstByte)
    {
        if (firstByte < TimeSpan.Zero)
        {
            return;
        }

        lock (_lock)
        {
            var weight = firstByte.TotalSeconds > _firstByteSeconds ? LongerWaitWeight : NewestWeight;
            _firstByteSeconds = Averaged(_firstByteSeconds, firstByte.TotalSeconds, weight, ref _firstByteLearned);
        }
    }

    /// <summary>Learns one stream's rate from a body of <paramref name="bytes"/> that took <paramref name="body"/> after its first byte; short bodies are ignored.</summary>
    public void ObserveBody(long bytes, TimeSpan body)
    {
        if (bytes < shortestSampleBytes || body < TimeSpan.Zero)
        {
            return;
        }

        lock (_lock)
        {
            _secondsPerByte = Averaged(_secondsPerByte, body.TotalSeconds / bytes, NewestWeight, ref _rateLearned);
        }
    }

    /// <summary>
    /// Runs one streamed request (<paramref name="read"/> into <paramref name="sink"/>) and learns from it. The first
    /// byte is when the source first asks the sink for a buffer, which it does once the response has begun. Once the
    /// body has brought enough to judge the remote by (a rate sample, the first time; the first-byte wait, always),
    /// <paramref name="onJudged"/> is told, so spans planned after it know what this request taught. A request that
    /// fails before that teaches nothing, and is never judged.
    /// </summary>
    public async ValueTask MeasureAsync(RangeSink sink, Func<RangeSink, ValueTask> read, Action? onJudged = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(read);
        var timed = new TimingSink(sink, this, onJudged);
        await read(timed);
        if (timed.FirstByteAt != 0)
        {
            ObserveBody(timed.Delivered, Stopwatch.GetElapsedTime(timed.FirstByteAt, Stopwatch.GetTimestamp()));
        }
    }

    private bool RateLearned
    {
        get
        {
            lock (_lock)
            {
                return _rateLearned;
            }
        }
    }

    private static double Averaged(double average, double sample, double weight, ref bool learned)
    {
        if (!learned)
        {
            learned = true;
            return sample;
        }

        return average + (weight * (sample - average));
    }

    /// <summary>
    /// Passes everything to the span's sink and notes when the source first wanted a buffer, how much it delivered, and
    /// when the remote could first be judged: the first-byte wait is learned at the first byte; a first rate sample,
    /// when the remote has none yet, once the body reaches the shortest sample.
    /// </summary>
    private sealed class TimingSink(RangeSink inner, RemoteRequestCost cost, Action? onJudged) : RangeSink
    {
        private bool _judged;

        public long SentAt { get; } = Stopwatch.GetTimestamp();

        public long FirstByteAt { get; private set; }

        public long Delivered { get; private set; }

        public override long Offset => inner.Offset;

        public override long Remaining => inner.Remaining;

        public override Memory<byte> GetBuffer()
        {
            if (FirstByteAt == 0)
            {
                FirstByteAt = Stopwatch.GetTimestamp();
                cost.ObserveFirstByte(Stopwatch.GetElapsedTime(SentAt, FirstByteAt));
                JudgeIf(cost.RateLearned);
            }

            return inner.GetBuffer();
        }

        public override void Advance(int count)
        {
            inner.Advance(count);
            Delivered += count;
            if (!_judged && Delivered >= cost.ShortestSampleBytes)
            {
                if (!cost.RateLearned)
                {
                    cost.ObserveBody(Delivered, Stopwatch.GetElapsedTime(FirstByteAt, Stopwatch.GetTimestamp()));
                }

                JudgeIf(true);
            }
        }

        private void JudgeIf(bool judged)
        {
            if (judged && !_judged)
            {
                _judged = true;
                onJudged?.Invoke();
            }
        }
    }
}
