using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public class TokenBucketTests
{
    [Fact]
    public void Take_WithinOneSecondOfRate_CompletesAtOnce()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, time);

        Assert.True(bucket.TakeAsync(600, CancellationToken.None).IsCompleted);
        Assert.True(bucket.TakeAsync(400, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void Take_BeyondRate_WaitsUntilDebtIsPaid()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, time);
        Assert.True(bucket.TakeAsync(1000, CancellationToken.None).IsCompleted);

        var second = bucket.TakeAsync(500, CancellationToken.None).AsTask();
        var third = bucket.TakeAsync(500, CancellationToken.None).AsTask();

        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(second.IsCompleted);
        Assert.False(third.IsCompleted); // 1000 bytes of debt at 1000 B/s: one second for both
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(third.IsCompleted);
    }

    [Fact]
    public void Take_LargerThanBucket_StillKeepsTheRate()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, time);

        var big = bucket.TakeAsync(5000, CancellationToken.None).AsTask(); // 1000 in the bucket, 4000 of debt

        time.Advance(TimeSpan.FromSeconds(3.9));
        Assert.False(big.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(big.IsCompleted);
    }

    [Fact]
    public async Task Take_Cancelled_ThrowsWithoutWaiting()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(10, time);
        using var cts = new CancellationTokenSource();
        var waiting = bucket.TakeAsync(1000, cts.Token).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
