using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class ByteBudgetTests
{
    [Fact]
    public async Task AcquireAsync_MoreThanAvailable_WaitsUntilEnoughIsReleased()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(60, default);
        await budget.AcquireAsync(30, default);

        var waiting = budget.AcquireAsync(50, default).AsTask();
        Assert.False(waiting.IsCompleted);
        budget.Release(30); // 40 free: still not enough
        Assert.False(waiting.IsCompleted);
        budget.Release(60);
        await waiting;

        Assert.Equal(50, budget.Available);
    }

    [Fact]
    public async Task AcquireAsync_MoreThanTheWholeBudget_TakesAllOfItAndGivesItBack()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(500, default);
        Assert.Equal(0, budget.Available);

        budget.Release(500);
        Assert.Equal(100, budget.Available);
    }

    [Fact]
    public async Task AcquireAsync_Cancelled_TakesNothing()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(100, default);
        using var cancel = new CancellationTokenSource();

        var waiting = budget.AcquireAsync(10, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        budget.Release(100);

        Assert.Equal(100, budget.Available);
        await budget.AcquireAsync(100, default); // the cancelled waiter left its turn
    }
}
