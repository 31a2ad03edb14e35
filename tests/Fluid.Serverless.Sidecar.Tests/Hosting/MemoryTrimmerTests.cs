using Fluid.Serverless.Sidecar.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

public sealed class MemoryTrimmerTests
{
    private static readonly TimeSpan Quiet = MemoryTrimmer.CheckInterval;

    [Fact]
    public void TryTrim_LessThanThresholdDropped_DoesNotCollect()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);
        Assert.False(trimmer.TryTrim(MemoryTrimmer.MinDroppedBytes - 1, Quiet));
    }

    [Fact]
    public void TryTrim_BurstStillRenting_WaitsUntilItIsOver()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);
        Assert.False(trimmer.TryTrim(4 * MemoryTrimmer.MinDroppedBytes, Quiet / 2));
        Assert.True(trimmer.TryTrim(4 * MemoryTrimmer.MinDroppedBytes, Quiet));
    }

    [Fact]
    public void TryTrim_AfterCollecting_NeedsNewDropsBeforeCollectingAgain()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);
        var fullCollections = GC.CollectionCount(GC.MaxGeneration);
        Assert.True(trimmer.TryTrim(MemoryTrimmer.MinDroppedBytes, Quiet));
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > fullCollections);

        Assert.False(trimmer.TryTrim(MemoryTrimmer.MinDroppedBytes + 1, Quiet));
        Assert.True(trimmer.TryTrim(2 * MemoryTrimmer.MinDroppedBytes, Quiet));
    }

    [Fact]
    public void TryTrim_CacheReportedGarbage_CollectsOnceEvenDuringABurst()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);
        var fullCollections = GC.CollectionCount(GC.MaxGeneration);

        Assert.True(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: TimeSpan.Zero, reclaimReports: 1));
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > fullCollections);

        Assert.False(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: Quiet, reclaimReports: 1));
        Assert.True(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: TimeSpan.Zero, reclaimReports: 2));
    }

    [Fact]
    public void TryTrim_CacheReportedGarbageWhileBusy_WaitsForAQuietCheck()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);

        Assert.False(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: Quiet, reclaimReports: 1, busy: true));
        Assert.True(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: Quiet, reclaimReports: 1, busy: false));
    }

    [Fact]
    public void TryTrim_CacheReportedGarbageUnderSteadyLoad_CollectsAfterTheLongestDeferral()
    {
        var trimmer = new MemoryTrimmer(TimeProvider.System, NullLogger<MemoryTrimmer>.Instance);
        var checks = (int)(MemoryTrimmer.MaxReportDeferral / MemoryTrimmer.CheckInterval);
        for (var check = 0; check < checks; check++)
        {
            Assert.False(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: Quiet, reclaimReports: 1, busy: true));
        }

        Assert.True(trimmer.TryTrim(droppedBytes: 0, sinceLastLargeRent: Quiet, reclaimReports: 1, busy: true));
    }
}
