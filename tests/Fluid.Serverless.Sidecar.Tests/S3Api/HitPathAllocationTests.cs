using Fluid.Serverless.Micro.HotPaths;
using Xunit.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.S3Api;

/// <summary>
/// The allocation budget of the ranged-GET hit path (bench/micro/README.md has the BenchmarkDotNet figures the budget
/// comes from). Bytes allocated per request are stable on a noisy machine where time is not, so CI checks these.
/// Runs alone (its collection is not parallel): it counts the whole process's allocations, because the handler's
/// awaits may finish on another thread and a per-thread count would miss what that thread allocates.
/// </summary>
[Collection(AllocationBudgetCollection.Name)]
public sealed class HitPathAllocationTests(ITestOutputHelper output)
{
    /// <summary>
    /// Bytes per 64 KiB ranged GET served from the block cache: measured 631 (Release, what CI runs; the block file
    /// kept open needs no path) and 2,744 (Debug, where async state machines are classes), plus headroom for the
    /// thread an await resumes on.
    /// </summary>
#if DEBUG
    public const long RangedGetBudgetBytes = 3_200;
#else
    public const long RangedGetBudgetBytes = 800;
#endif

    private const int Warm = 500;
    private const int Measured = 2_000;

    [Fact]
    public async Task RangedGet_CacheHit_AllocatesWithinBudgetPerRequest()
    {
        await using var hitPath = await RangedGetHitPath.StartAsync();
        for (var i = 0; i < Warm; i++)
        {
            Assert.Equal(206, await hitPath.GetNextRangeAsync());
        }

        var thread = GC.GetAllocatedBytesForCurrentThread();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < Measured; i++)
        {
            await hitPath.GetNextRangeAsync();
        }

        var perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / Measured;
        output.WriteLine($"ranged GET hit path: {perRequest} bytes allocated per request (this thread: {(GC.GetAllocatedBytesForCurrentThread() - thread) / Measured})");
        Assert.Equal(hitPath.RangeBytes, hitPath.LastBodyBytes);
        Assert.True(perRequest <= RangedGetBudgetBytes, $"the ranged GET hit path allocates {perRequest} bytes per request; the budget is {RangedGetBudgetBytes} (bench/micro/README.md)");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationBudgetCollection
{
    public const string Name = "allocation budget";
}
