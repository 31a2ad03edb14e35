using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class BlockFlightTableTests
{
    private static readonly BlockKey Key = new("memory://test/", "a.bin", "\"v1\"", 0);

    [Fact]
    public void JoinOrStart_SecondReaderOfSameBlock_JoinsTheFirstFlight()
    {
        var table = new BlockFlightTable();

        Assert.Equal(FlightClaim.Started, table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var first));
        Assert.Equal(FlightClaim.Joined, table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var second));

        Assert.Same(first, second);
        Assert.Equal(1, table.Joins);
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void JoinOrStart_OtherBlockOfSameObject_StartsItsOwnFlight()
    {
        var table = new BlockFlightTable();

        table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var first);
        Assert.Equal(FlightClaim.Started, table.JoinOrStart(Key with { Index = 1 }, 10, BlockPriority.OnDemand, out var other));

        Assert.NotSame(first, other);
        Assert.Equal(0, table.Joins);
    }

    [Fact]
    public void JoinOrStart_OnDemandReaderJoiningPrefetch_RaisesTheFlightsPriority()
    {
        var table = new BlockFlightTable();
        table.JoinOrStart(Key, 10, BlockPriority.Prefetch, out var flight);

        table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out _);

        Assert.Equal(BlockPriority.OnDemand, flight.Priority);
    }

    [Fact]
    public void JoinOrStart_AfterTheFlightEnded_StartsANewOne()
    {
        var table = new BlockFlightTable();
        table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var first);
        first.Complete();
        table.End(Key, first);

        Assert.Equal(FlightClaim.Started, table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var second));
        Assert.NotSame(first, second);
    }

    [Fact]
    public void JoinOrStart_FlightThatLetGoOfItsBlockButIsStillListed_ReportsEnded()
    {
        var table = new BlockFlightTable();
        var flight = new BlockFlight(10, BlockPriority.OnDemand);
        Assert.True(table.TryRegister(Key, flight));
        flight.Leave(); // the last reference is gone, the runner has not taken it out of the table yet

        Assert.Equal(FlightClaim.Ended, table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out _));
        Assert.Equal(0, table.Joins);
    }

    [Fact]
    public void End_OfAnotherFlightForTheSameBlock_LeavesTheListedOneInPlace()
    {
        var table = new BlockFlightTable();
        table.JoinOrStart(Key, 10, BlockPriority.OnDemand, out var listed);
        var stale = new BlockFlight(10, BlockPriority.OnDemand);

        table.End(Key, stale);

        Assert.True(table.TryGet(Key, out var found));
        Assert.Same(listed, found);
        Assert.False(table.TryRegister(Key, stale));
    }

    [Fact]
    public async Task AwaitLeaseAsync_TwoReaders_EachGetsTheFetchedBytes()
    {
        var table = new BlockFlightTable();
        table.JoinOrStart(Key, 4, BlockPriority.OnDemand, out var flight);
        table.JoinOrStart(Key, 4, BlockPriority.OnDemand, out _);
        var first = BlockFlightTable.AwaitLeaseAsync(flight, CancellationToken.None);
        var second = BlockFlightTable.AwaitLeaseAsync(flight, CancellationToken.None);

        new byte[] { 1, 2, 3, 4 }.CopyTo(flight.AllocatePayload());
        flight.Complete();
        table.End(Key, flight);

        using var a = await first;
        using var b = await second;
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, a.Memory.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, b.Memory.ToArray());
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task AwaitLeaseAsync_FetchFailed_ReaderSeesTheSourcesError()
    {
        var table = new BlockFlightTable();
        table.JoinOrStart(Key, 4, BlockPriority.OnDemand, out var flight);
        var reader = BlockFlightTable.AwaitLeaseAsync(flight, CancellationToken.None);

        flight.Fail(new IOException("connection reset"));
        table.End(Key, flight);

        var error = await Assert.ThrowsAsync<IOException>(async () => await reader);
        Assert.Equal("connection reset", error.Message);
    }
}
