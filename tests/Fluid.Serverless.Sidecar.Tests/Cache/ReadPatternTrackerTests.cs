using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class ReadPatternTrackerTests
{
    private const int Block = 1024;

    [Fact]
    public void OnRead_SequentialReads_WindowDoublesUpToTheMaximum()
    {
        var tracker = new ReadPatternTracker(maxWindowBlocks: 8, Block, TimeProvider.System);

        var windows = Enumerable.Range(0, 6).Select(i => tracker.OnRead("ds", "k", i * Block, Block)).ToArray();

        Assert.Equal([1, 2, 4, 8, 8, 8], windows);
    }

    [Fact]
    public void OnRead_RandomReadsAfterSequential_WindowShrinksToZero()
    {
        var tracker = new ReadPatternTracker(maxWindowBlocks: 8, Block, TimeProvider.System);
        for (var i = 0; i < 4; i++)
        {
            tracker.OnRead("ds", "k", i * Block, Block);
        }

        var windows = new[] { 900, 100, 700, 300, 500 }.Select(b => tracker.OnRead("ds", "k", b * (long)Block, Block)).ToArray();

        Assert.Equal([4, 2, 1, 0, 0], windows);
    }

    [Fact]
    public void OnRead_FirstReadNotAtStart_NoReadAhead()
    {
        var tracker = new ReadPatternTracker(maxWindowBlocks: 8, Block, TimeProvider.System);

        Assert.Equal(0, tracker.OnRead("ds", "k", 5 * Block, 100));
        Assert.Equal(1, tracker.OnRead("ds", "k", (5 * Block) + 100, 100));
    }

    [Fact]
    public void OnRead_TwoObjects_TrackedSeparately()
    {
        var tracker = new ReadPatternTracker(maxWindowBlocks: 8, Block, TimeProvider.System);
        tracker.OnRead("ds", "a", 0, Block);
        tracker.OnRead("ds", "a", Block, Block);

        Assert.Equal(1, tracker.OnRead("ds", "b", 0, Block));
        Assert.Equal(4, tracker.OnRead("ds", "a", 2 * Block, Block));
    }

    [Fact]
    public void OnRead_MoreObjectsThanTracked_IdleOnesForgottenAndMemoryBounded()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var tracker = new ReadPatternTracker(maxWindowBlocks: 8, Block, time);
        for (var i = 0; i < 4096; i++)
        {
            tracker.OnRead("ds", $"old-{i}", 0, Block);
        }

        time.Advance(TimeSpan.FromMinutes(2));
        for (var i = 0; i < 10; i++)
        {
            tracker.OnRead("ds", $"new-{i}", 0, Block);
        }

        Assert.Equal(10, tracker.TrackedObjects);
        Assert.Equal(2, tracker.OnRead("ds", "new-3", Block, Block));
    }
}
