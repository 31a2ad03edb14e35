using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>The tier against a real redis-server that requires a password (<c>requirepass</c>), as a managed engine with AUTH does.</summary>
public sealed class RedisPasswordTierTests : IAsyncLifetime
{
    private const string Password = "tier-secret";
    private readonly string directory = Path.Join(Path.GetTempPath(), "fluid-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int port = FreePort.Next();
    private ServerProcess? server;

    private string Endpoint => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    public async Task InitializeAsync() => server = await RedisServers.StartAsync(port, directory, cluster: false, "--requirepass", Password);

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task BlocksReadOverTheTiersOwnConnections_AuthenticateFirst_BytesEqual()
    {
        await using var tier = TierTesting.Redis([Endpoint], out var store, password: Password);
        await TierTesting.ConnectedAsync(tier);
        var blocks = Enumerable.Range(0, 6).Select(i => (Id: TierTesting.Id("secured.bin", i, 1 << 20), Bytes: TierTesting.Bytes(1 << 20, 40 + i))).ToList();
        foreach (var (id, bytes) in blocks)
        {
            await TierTesting.PutAndWaitAsync(tier, id, bytes);
        }

        // Concurrent reads open more than one connection; each authenticates before its first GET.
        var reads = await Task.WhenAll(blocks.Select(async block =>
        {
            var read = new byte[block.Bytes.Length];
            return (Hit: await tier.TryGetAsync(block.Id, read, CancellationToken.None), Read: read);
        }));

        for (var i = 0; i < blocks.Count; i++)
        {
            Assert.True(reads[i].Hit, $"block {i} missed: {tier.Metrics.Snapshot()}");
            Assert.Equal(TierTesting.Sha256(blocks[i].Bytes), TierTesting.Sha256(reads[i].Read));
        }

        Assert.Equal(blocks.Count, store.DirectWrites);
        Assert.Equal(blocks.Count, store.DirectReads);
        Assert.Equal(0, store.LibraryReads + store.LibraryWrites);
        Assert.Equal(0, tier.Metrics.Snapshot().Errors);
    }
}
