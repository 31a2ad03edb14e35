using System.Globalization;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>"The tier never makes things worse", against a real redis-server that the test kills, restarts or slows down.</summary>
public sealed class TierGuardTests : IAsyncLifetime
{
    private readonly string directory = Path.Join(Path.GetTempPath(), "fluid-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int port = FreePort.Next();
    private ServerProcess? server;

    private string Endpoint => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    public async Task InitializeAsync() => server = await RedisServers.StartAsync(port, directory, cluster: false);

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task EngineKilled_ReadsMissAndTheBreakerOpens_ThenClosesOnceTheEngineIsBack()
    {
        var options = TierTesting.WithBreaker(TierTesting.Relaxed with { Timeout = TimeSpan.FromSeconds(2) }, breakDuration: TimeSpan.FromSeconds(1));
        await using var tier = TierTesting.Redis([Endpoint], options);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("killed.bin", 0, 64 * 1024);
        var bytes = TierTesting.Bytes(64 * 1024, 5);
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        Assert.True(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));

        await server!.DisposeAsync();
        server = null;
        var reads = 0;
        while (tier.GetStatus().Breaker != SharedTierBreakerState.Open)
        {
            Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));
            Assert.True(++reads < 1_000, "the breaker never opened");
        }

        // Open: the tier is skipped, writes are dropped rather than queued.
        var dropped = tier.Metrics.Snapshot().DroppedWrites;
        tier.Put(id, bytes);
        Assert.Equal(dropped + 1, tier.Metrics.Snapshot().DroppedWrites);
        Assert.True(tier.Metrics.Snapshot().Errors > 0);

        server = await RedisServers.StartAsync(port, directory, cluster: false);
        await TierTesting.Until(
            async () =>
            {
                // Each read is also the breaker's probe once its break has passed.
                await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None);
                return tier.GetStatus() is { Breaker: SharedTierBreakerState.Closed, Connected: true };
            },
            "the breaker to close after the restart");

        // The restarted engine is empty: the block is filled again and then served.
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        var read = new byte[bytes.Length];
        Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
    }

    [Fact]
    public async Task BlockReadConnectionClosedByTheEngineWhileIdle_NextReadStillHits()
    {
        await using var tier = TierTesting.Redis([Endpoint], out var store);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("idle.bin", 0, 256 * 1024);
        var bytes = TierTesting.Bytes(256 * 1024, 9);
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        Assert.True(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));

        // What a restart or the engine's idle-client timeout does: the tier's own block-read connection (the one
        // without a client name; the library names its connections) is closed by the engine while it sits in the pool.
        var clients = await RedisServers.CliAsync("-p", port.ToString(CultureInfo.InvariantCulture), "CLIENT", "LIST");
        var unnamed = clients.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Contains(" name= ", StringComparison.Ordinal) && line.Contains("cmd=get", StringComparison.Ordinal))
            .Select(line => line.Split(' ')[0]["id=".Length..])
            .ToList();
        Assert.Single(unnamed);
        await RedisServers.CliAsync("-p", port.ToString(CultureInfo.InvariantCulture), "CLIENT", "KILL", "ID", unnamed[0]);

        var errors = tier.Metrics.Snapshot().Errors;
        var read = new byte[bytes.Length];
        Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        Assert.Equal(errors, tier.Metrics.Snapshot().Errors);
        Assert.Equal(2, store.DirectReads);
    }

    [Fact]
    public async Task SlowEngine_CallsTimeOutAsMisses_AndHitAgainOnceItIsFast()
    {
        await using var proxy = new TcpDelayProxy(port);
        var options = TierTesting.Relaxed with { Timeout = TimeSpan.FromMilliseconds(300) };
        await using var tier = TierTesting.Redis(["127.0.0.1:" + proxy.Port.ToString(CultureInfo.InvariantCulture)], options);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("slow.bin", 0, 64 * 1024);
        var bytes = TierTesting.Bytes(64 * 1024, 6);
        await using (var direct = TierTesting.Redis([Endpoint]))
        {
            // Written around the proxy, with the relaxed timeout: only the reads below are meant to be slow.
            await TierTesting.ConnectedAsync(direct);
            await TierTesting.PutAndWaitAsync(direct, id, bytes);
        }

        proxy.Delay = TimeSpan.FromSeconds(3);
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));
        // A lease call that times out while the breaker is closed may have landed: the reader waits on the fill (and
        // finds its own lease if so) instead of fetching the block from the remote beside whoever holds it.
        Assert.Equal(FillLease.HeldElsewhere, await tier.TryAcquireFillLeaseAsync(id, CancellationToken.None));
        var counters = tier.Metrics.Snapshot();
        Assert.Equal(2, counters.Timeouts);
        Assert.Equal(1, counters.Misses);
        Assert.Equal(SharedTierBreakerState.Closed, tier.GetStatus().Breaker);

        proxy.Delay = TimeSpan.Zero;
        var read = new byte[bytes.Length];
        await TierTesting.Until(async () => await tier.TryGetAsync(id, read, CancellationToken.None), "a hit once the engine is fast again");
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
    }

    [Fact]
    public async Task Put_MoreBlocksThanMaxPendingWrites_DropsTheRestAndCountsThem()
    {
        await using var proxy = new TcpDelayProxy(port) { Delay = TimeSpan.FromSeconds(1) };
        var options = TierTesting.Relaxed with { MaxPendingWrites = 2, WriterConcurrency = 1 };
        await using var tier = TierTesting.Redis(["127.0.0.1:" + proxy.Port.ToString(CultureInfo.InvariantCulture)], options);
        await TierTesting.ConnectedAsync(tier);

        for (var i = 0; i < 10; i++)
        {
            tier.Put(TierTesting.Id("burst.bin", i, 1024), TierTesting.Bytes(1024, i));
        }

        Assert.Equal(8, tier.Metrics.Snapshot().DroppedWrites);
        proxy.Delay = TimeSpan.Zero;
        await TierTesting.DrainAsync(tier);
        Assert.Equal(2, tier.Metrics.Snapshot().Fills);
    }

    [Fact]
    public async Task EngineDownAtStart_FirstCallsMissWithoutWaiting_ThenTheTierConnects()
    {
        await server!.DisposeAsync();
        server = null;
        await using var tier = TierTesting.Redis([Endpoint]);
        var id = TierTesting.Id("late.bin", 0, 1024);
        Assert.False(await tier.TryGetAsync(id, new byte[1024], CancellationToken.None));
        Assert.Equal(FillLease.Unavailable, await tier.TryAcquireFillLeaseAsync(id, CancellationToken.None));
        Assert.False(tier.GetStatus().Connected);

        server = await RedisServers.StartAsync(port, directory, cluster: false);
        await TierTesting.ConnectedAsync(tier);
        await TierTesting.PutAndWaitAsync(tier, id, TierTesting.Bytes(1024, 1));
        Assert.True(await tier.TryGetAsync(id, new byte[1024], CancellationToken.None));
    }
}
