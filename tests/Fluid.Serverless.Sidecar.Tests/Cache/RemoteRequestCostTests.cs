using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// The span length a remote is worth, from what its requests cost: the first-byte wait against one stream's rate.
/// The figures fed in are the remotes the benchmarks use (bench/fuse README): moto builds the whole object before the
/// first byte of every ranged GET, the latency proxy paces each stream.
/// </summary>
public sealed class RemoteRequestCostTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void Unlearned_WorthNothing()
    {
        Assert.Equal(0, new RemoteRequestCost().WorthwhileSpanBytes);
    }

    [Fact]
    public void PacedStream_WorthAFewMegabytes_SoTheWindowStaysCutIntoStreams()
    {
        var cost = new RemoteRequestCost();

        // 20 ms to the first byte, then 32 MiB/s: 8 MiB in 250 ms.
        cost.Observe(TimeSpan.FromMilliseconds(20), 8 * MiB, TimeSpan.FromMilliseconds(250));

        Assert.Equal((long)(4 * 0.020 * 32 * MiB), cost.WorthwhileSpanBytes, tolerance: 1024);
    }

    [Fact]
    public void CostlyFirstByte_WorthMoreThanAnyWindow()
    {
        var cost = new RemoteRequestCost();

        // moto on a 1 GiB object: half a second to the first byte, then 64 MiB in 100 ms.
        cost.Observe(TimeSpan.FromMilliseconds(500), 64 * MiB, TimeSpan.FromMilliseconds(100));

        Assert.Equal(4 * 0.5 * 640 * MiB, cost.WorthwhileSpanBytes, tolerance: 1024 * 1024);
        Assert.True(cost.WorthwhileSpanBytes > 1024 * MiB);
    }

    [Fact]
    public void ShortBodies_AreNotLearnedFrom()
    {
        var cost = new RemoteRequestCost();

        cost.Observe(TimeSpan.FromMilliseconds(500), 256 * 1024, TimeSpan.FromMilliseconds(1));

        Assert.Equal(0, cost.WorthwhileSpanBytes);
    }

    [Fact]
    public void InstantBody_DoesNotMakeTheRateInfinite()
    {
        var cost = new RemoteRequestCost();

        cost.Observe(TimeSpan.FromMilliseconds(1), 4 * MiB, TimeSpan.Zero);

        // Bounded by the fastest stream assumed (10 GB/s): 4 × 1 ms × 10 GB/s = 40 MB.
        Assert.Equal(40_000_000, cost.WorthwhileSpanBytes, tolerance: 1000);
    }

    [Fact]
    public void MovingAverage_FollowsARemoteThatChanged_WithinAFewRequests()
    {
        var cost = new RemoteRequestCost();
        cost.Observe(TimeSpan.FromMilliseconds(20), 8 * MiB, TimeSpan.FromMilliseconds(250));
        var paced = cost.WorthwhileSpanBytes;

        cost.Observe(TimeSpan.FromMilliseconds(500), 64 * MiB, TimeSpan.FromMilliseconds(100));
        var afterOne = cost.WorthwhileSpanBytes;
        for (var i = 0; i < 8; i++)
        {
            cost.Observe(TimeSpan.FromMilliseconds(500), 64 * MiB, TimeSpan.FromMilliseconds(100));
        }

        // One outlier moves the estimate, it does not replace it; eight more take it past a 256 MiB window (so a
        // window is one request, not eight streams).
        Assert.InRange(afterOne, paced + 1, 4 * 0.5 * 640 * MiB / 4);
        Assert.True(cost.WorthwhileSpanBytes > 256 * MiB, $"{cost.WorthwhileSpanBytes} bytes after nine costly requests");
    }

    [Fact]
    public async Task MeasureAsync_PassesEveryByteThrough_AndLearnsTheFirstByteWait()
    {
        var cost = new RemoteRequestCost();
        var sink = new ArraySink(2 * MiB);

        await cost.MeasureAsync(sink, async timed =>
        {
            await Task.Delay(200); // the remote builds its answer
            while (timed.Remaining > 0)
            {
                var buffer = timed.GetBuffer();
                buffer.Span.Fill(7);
                timed.Advance(buffer.Length);
            }
        });

        Assert.Equal(0, sink.Remaining);
        Assert.All(sink.Bytes, b => Assert.Equal(7, b));
        // 200 ms before the first byte and a 2 MiB copy in memory after it: worth well over the 2 MiB it carried
        // (the copy would have to take 400 ms for this to fail).
        Assert.True(cost.WorthwhileSpanBytes > 2 * MiB, $"{cost.WorthwhileSpanBytes} bytes, first byte after {cost.FirstByte}");
        Assert.True(cost.FirstByte >= TimeSpan.FromMilliseconds(190), $"first byte after {cost.FirstByte}");
    }

    [Fact]
    public async Task MeasureAsync_FirstRequest_IsJudgedOnceTheBodyBringsARate_LaterOnesAtTheFirstByte()
    {
        var cost = new RemoteRequestCost();
        var judgedAt = new List<long>();

        // No rate known yet: judged after the first 1 MiB of body (and only once), with a rate learned by then.
        var sink = new ArraySink(2 * MiB);
        await cost.MeasureAsync(sink, timed => WriteInPiecesAsync(timed, 256 * 1024), () => judgedAt.Add(sink.Offset));
        Assert.Equal([1 * MiB], judgedAt);

        // The rate is known now: the next request is judged at its first byte.
        judgedAt.Clear();
        var next = new ArraySink(2 * MiB);
        await cost.MeasureAsync(next, timed => WriteInPiecesAsync(timed, 256 * 1024), () => judgedAt.Add(next.Offset));
        Assert.Equal([0L], judgedAt);
        Assert.True(cost.WorthwhileSpanBytes > 0);
    }

    [Fact]
    public async Task MeasureAsync_RequestFailedBeforeItsFirstByte_TeachesNothing_AndIsNeverJudged()
    {
        var cost = new RemoteRequestCost();
        var judged = 0;

        await Assert.ThrowsAsync<IOException>(async () => await cost.MeasureAsync(
            new ArraySink(2 * MiB),
            _ => throw new IOException("connection refused (injected)"),
            () => judged++));

        Assert.Equal(0, cost.WorthwhileSpanBytes);
        Assert.Equal(TimeSpan.Zero, cost.FirstByte);
        Assert.Equal(0, judged);
    }

    private static ValueTask WriteInPiecesAsync(RangeSink sink, int piece)
    {
        while (sink.Remaining > 0)
        {
            var buffer = sink.GetBuffer()[..(int)Math.Min(piece, sink.Remaining)];
            buffer.Span.Fill(1);
            sink.Advance(buffer.Length);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>One part: the whole array.</summary>
    private sealed class ArraySink(long size) : RangeSink
    {
        private int _filled;

        public byte[] Bytes { get; } = new byte[size];

        public override long Offset => _filled;

        public override long Remaining => Bytes.Length - _filled;

        public override Memory<byte> GetBuffer() => Bytes.AsMemory(_filled);

        public override void Advance(int count) => _filled += count;
    }
}
