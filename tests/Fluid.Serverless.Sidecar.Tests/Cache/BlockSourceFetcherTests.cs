using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class BlockSourceFetcherTests
{
    private static readonly BlockKey Key = new("memory://test/", "a.bin", "\"v1\"", 0);

    [Fact]
    public async Task FetchBlockAsync_FillsTheFlightsBufferAndCountsOneRequest()
    {
        var fetcher = new BlockSourceFetcher(new FetchSlots(1, 1, 1), CancellationToken.None);
        var flight = new BlockFlight(3, BlockPriority.OnDemand);

        var payload = await fetcher.FetchBlockAsync(flight, static (buffer, _) =>
        {
            new byte[] { 7, 8, 9 }.CopyTo(buffer);
            return ValueTask.CompletedTask;
        });

        Assert.Equal(new byte[] { 7, 8, 9 }, payload.ToArray());
        Assert.Equal(new byte[] { 7, 8, 9 }, flight.Payload.ToArray());
        Assert.Equal((1L, 1L, 3L), (fetcher.Requests, fetcher.Blocks, fetcher.Bytes));
    }

    [Fact]
    public async Task FetchBlockAsync_SourceFails_ErrorReachesTheCallerAndTheSlotIsFreed()
    {
        var fetcher = new BlockSourceFetcher(new FetchSlots(1, 1, 1), CancellationToken.None);

        await Assert.ThrowsAsync<IOException>(async () => await fetcher.FetchBlockAsync(
            new BlockFlight(3, BlockPriority.OnDemand),
            static (_, _) => throw new IOException("reset")));

        // The only on-demand slot is free again: a second fetch runs instead of waiting for ever.
        var payload = await fetcher.FetchBlockAsync(new BlockFlight(1, BlockPriority.OnDemand), static (buffer, _) =>
        {
            buffer.Span[0] = 42;
            return ValueTask.CompletedTask;
        });
        Assert.Equal(42, payload.Span[0]);
        Assert.Equal((2L, 1L), (fetcher.Requests, fetcher.Blocks));
    }

    [Fact]
    public async Task FetchRunAsync_SourceStopsShortOfTheRun_ThrowsNamingTheMissingBytes()
    {
        var fetcher = new BlockSourceFetcher(new FetchSlots(1, 1, 1), CancellationToken.None);
        var first = new BlockFlight(10, BlockPriority.OnDemand);
        var second = new BlockFlight(10, BlockPriority.OnDemand);
        var completed = new List<long>();
        var sink = new BlockRunSink(
            [new RunBlock(Key, "a", first), new RunBlock(Key with { Index = 1 }, "b", second)],
            10,
            (block, _) => completed.Add(block.Key.Index),
            static (_, _) => { });

        var error = await Assert.ThrowsAsync<IOException>(async () => await fetcher.FetchRunAsync(first, sink, static (target, _) =>
        {
            // Only the first block's bytes arrive.
            var buffer = target.GetBuffer();
            buffer.Span[..10].Fill(1);
            target.Advance(10);
            return ValueTask.CompletedTask;
        }));

        Assert.Contains("10 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal([0L], completed);
        Assert.Equal(1, fetcher.Requests);
    }
}
