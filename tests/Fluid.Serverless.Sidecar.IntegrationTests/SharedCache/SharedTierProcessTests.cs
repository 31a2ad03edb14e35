using System.Globalization;
using System.Net;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>The sidecar process with a <c>sharedCache</c> section whose engine is down at start, then comes up.</summary>
public sealed class SharedTierProcessTests : IDisposable
{
    private readonly string dataDirectory = Directory.CreateTempSubdirectory("fluid-tier-dataset-").FullName;
    private readonly string redisDirectory = Path.Join(Path.GetTempPath(), "fluid-tier-redis-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        Directory.Delete(dataDirectory, recursive: true);
        if (Directory.Exists(redisDirectory))
        {
            Directory.Delete(redisDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task EngineDownAtStart_SidecarIsReadyAndReportsTheTier_ThenConnectsInTheBackground()
    {
        var port = FreePort.Next();
        var config = new SidecarConfig
        {
            Datasets = [new DatasetConfig { Name = "local", Source = $"local://{dataDirectory}" }],
            SharedCache = new SharedCacheConfig { Engine = "redis", Endpoints = ["127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture)] },
        };
        await using var sidecar = await SidecarProcess.StartAsync(config);
        using var admin = new HttpClient { BaseAddress = sidecar.AdminEndpoint };

        using (var ready = await admin.GetAsync(new Uri("/readyz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var metrics = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("fluid_sidecar_shared_tier_connected 0", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_shared_tier_breaker_open 0", metrics, StringComparison.Ordinal);

        await using var redis = await RedisServers.StartAsync(port, redisDirectory, cluster: false);
        await TierTesting.Until(
            async () => (await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Contains("fluid_sidecar_shared_tier_connected 1", StringComparison.Ordinal),
            "the sidecar to reach the engine once it is up");
    }
}
