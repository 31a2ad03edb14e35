using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>
/// The read path with a shared tier, as users of sidecar processes see it: moto is the remote (its request recorder
/// counts the GETs), sidecars have separate local caches, the tier is a real engine (a 3-master Redis Cluster, or a
/// standalone redis-server the test kills or corrupts).
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class SharedTierReadPathTests(RedisClusterFixture cluster) : IAsyncLifetime
{
    private const long Size = (20L * 1024 * 1024) + 12_345; // 6 blocks of 4 MiB, the last one short
    private readonly string _prefix = "t-" + Guid.NewGuid().ToString("N")[..8] + "/";
    private readonly string _sourceDirectory = Directory.CreateTempSubdirectory("fluid-tier-source-").FullName;
    private readonly string _redisDirectory = Path.Join(Path.GetTempPath(), "fluid-tier-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private MotoProcess _moto = null!;

    public async Task InitializeAsync() => _moto = await MotoProcess.StartAsync();

    public async Task DisposeAsync()
    {
        await _moto.DisposeAsync();
        Directory.Delete(_sourceDirectory, recursive: true);
        if (Directory.Exists(_redisDirectory))
        {
            Directory.Delete(_redisDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task TwoSidecarsOneClusterTier_SecondReadsTheObjectFromTheTier_NoRemoteGetsAndSameBytes()
    {
        const string key = "shared/object.bin";
        var (bucket, hashes) = await SeedAsync((key, Size));
        using var http = S3Http.CreateClient();

        await using var first = await StartSidecarAsync(bucket, cluster.Endpoints);
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, first.S3Endpoint, "data", key));
        await WaitForFillsAsync(first, 6);

        await _moto.StartRecordingAsync();
        await using var second = await StartSidecarAsync(bucket, cluster.Endpoints);
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, second.S3Endpoint, "data", key));

        var remoteGets = await ObjectGetsAsync(bucket);
        Assert.True(remoteGets.Count == 0, $"expected the second sidecar to take every block from the tier, got remote GETs:\n{string.Join('\n', remoteGets)}\n{second.Describe()}");
        Assert.Equal(6, await MetricAsync(second, "fluid_sidecar_shared_tier_hits_total"));

        // A first read from the tier is handed to the GET in memory, with no local copy; a second read keeps one,
        // and a third is served from the pod's own disk.
        Assert.Equal(6, await MetricAsync(second, "fluid_sidecar_cache_shared_tier_handed_over_total"));
        Assert.Equal(0, await MetricAsync(second, "fluid_sidecar_cache_blocks"));
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, second.S3Endpoint, "data", key));
        Assert.Equal(6, await MetricAsync(second, "fluid_sidecar_cache_blocks"));
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, second.S3Endpoint, "data", key));
        Assert.Equal(12, await MetricAsync(second, "fluid_sidecar_shared_tier_hits_total"));
        Assert.Empty(await ObjectGetsAsync(bucket));
        var status = await StatusAsync(second);
        Assert.Contains("\"sharedTier\"", status, StringComparison.Ordinal);
        Assert.Contains("\"engine\": \"redis\"", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ObjectChangedAtTheRemote_NewETag_NeverServedFromTheOldBlocksInTheTier()
    {
        const string key = "changing/object.bin";
        var (bucket, hashes) = await SeedAsync((key, Size));
        using var http = S3Http.CreateClient();
        await using (var first = await StartSidecarAsync(bucket, cluster.Endpoints))
        {
            Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, first.S3Endpoint, "data", key));
            await WaitForFillsAsync(first, 6);
        }

        // Same key, same size, other bytes: a new ETag at the remote.
        var root = Path.Combine(_sourceDirectory, bucket + "-v2");
        var newBytes = File.ReadAllBytes(Path.Combine(_sourceDirectory, bucket, key));
        Array.Reverse(newBytes);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, key))!);
        File.WriteAllBytes(Path.Combine(root, key), newBytes);
        using (var s3 = _moto.CreateClient())
        {
            await TestDatasets.UploadDirectoryAsync(s3, bucket, root, [key]);
        }

        await using var second = await StartSidecarAsync(bucket, cluster.Endpoints);
        Assert.Equal(TierTesting.Sha256(newBytes).ToLowerInvariant(), (await S3Http.Sha256OfObjectAsync(http, second.S3Endpoint, "data", key)).ToLowerInvariant());
        Assert.Equal(0, await MetricAsync(second, "fluid_sidecar_shared_tier_hits_total"));
    }

    [Fact]
    public async Task EngineKilledMidRead_ReadsSucceedFromTheRemote_BreakerOpensThenClosesWhenItIsBack()
    {
        const string warm = "warm/object.bin";
        const string cold = "cold/object.bin";
        const string later = "later/object.bin";
        var (bucket, hashes) = await SeedAsync((warm, Size), (cold, 64L * 1024 * 1024), (later, Size));
        var port = FreePort.Next();
        var endpoint = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        var redis = await RedisServers.StartAsync(port, _redisDirectory, cluster: false);
        using var http = S3Http.CreateClient();
        using var s3 = _moto.CreateClient();
        await using var sidecar = await StartSidecarAsync(bucket, [endpoint]);
        var probes = 0;
        try
        {
            Assert.Equal(hashes[warm], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", warm));
            await WaitForFillsAsync(sidecar, 6);

            // Kill the engine once the cold read has started asking the tier.
            var missesBefore = await MetricAsync(sidecar, "fluid_sidecar_shared_tier_misses_total");
            var read = S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", cold);
            await TierTesting.Until(async () => await MetricAsync(sidecar, "fluid_sidecar_shared_tier_misses_total") > missesBefore, "the cold read to ask the tier");
            await redis.DisposeAsync();
            Assert.Equal(hashes[cold], await read);
            Assert.Equal(hashes[later], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", later));

            // The breaker samples 10 s, successes before the kill included: more failed calls open it.
            await TierTesting.Until(
                async () =>
                {
                    await ReadNewObjectAsync(s3, http, sidecar, bucket, probes++);
                    return await MetricAsync(sidecar, "fluid_sidecar_shared_tier_breaker_open") == 1;
                },
                "the breaker to open");
            Assert.True(await MetricAsync(sidecar, "fluid_sidecar_shared_tier_errors_total") > 0);
        }
        finally
        {
            await redis.DisposeAsync();
        }

        await using var again = await RedisServers.StartAsync(port, _redisDirectory, cluster: false);
        await TierTesting.Until(
            async () =>
            {
                // Each read of a new object reaches the tier: the breaker's probe once its break has passed.
                await ReadNewObjectAsync(s3, http, sidecar, bucket, probes++);
                return await MetricAsync(sidecar, "fluid_sidecar_shared_tier_breaker_open") == 0;
            },
            "the breaker to close once the engine is back");
    }

    /// <summary>Puts a small new object at the remote and reads it through the sidecar: its bytes must be right.</summary>
    private static async Task ReadNewObjectAsync(Amazon.S3.IAmazonS3 s3, HttpClient http, SidecarProcess sidecar, string bucket, int n)
    {
        var key = $"probe/{n}.txt";
        await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = bucket, Key = key, ContentBody = key });
        Assert.Equal(key, await http.GetStringAsync(S3Http.ObjectUri(sidecar.S3Endpoint, "data", key)));
    }

    [Fact]
    public async Task CorruptedTierValues_DetectedAndCounted_BytesServedAreStillTheRemotes()
    {
        const string key = "corrupt/object.bin";
        var (bucket, hashes) = await SeedAsync((key, Size));
        var port = FreePort.Next();
        var endpoint = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        await using var redis = await RedisServers.StartAsync(port, _redisDirectory, cluster: false);
        using var http = S3Http.CreateClient();
        await using (var first = await StartSidecarAsync(bucket, [endpoint]))
        {
            Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, first.S3Endpoint, "data", key));
            await WaitForFillsAsync(first, 6);
        }

        var portText = port.ToString(CultureInfo.InvariantCulture);
        var keys = (await RedisServers.CliAsync("-p", portText, "--scan", "--pattern", _prefix + "blk/*"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(6, keys.Length);
        foreach (var blockKey in keys)
        {
            await RedisServers.CliAsync("-p", portText, "SETRANGE", blockKey, "4096", "flipped");
        }

        await using var second = await StartSidecarAsync(bucket, [endpoint]);
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, second.S3Endpoint, "data", key));
        // Each refused read counts, also the polls while the first sidecar's fill lease lasts.
        Assert.True(await MetricAsync(second, "fluid_sidecar_shared_tier_corrupt_values_total") >= 6);
        Assert.Equal(0, await MetricAsync(second, "fluid_sidecar_shared_tier_hits_total"));
    }

    private async Task<(string Bucket, IReadOnlyDictionary<string, string> Hashes)> SeedAsync(params (string Key, long Size)[] files)
    {
        var bucket = $"tier-{Guid.NewGuid():N}"[..20];
        var root = Path.Combine(_sourceDirectory, bucket);
        var hashes = TestDatasets.WriteFiles(root, files);
        using var s3 = _moto.CreateClient();
        await TestDatasets.UploadDirectoryAsync(s3, bucket, root, hashes.Keys);
        return (bucket, hashes);
    }

    private Task<SidecarProcess> StartSidecarAsync(string bucket, IReadOnlyList<string> endpoints) =>
        SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets = [TestDatasets.S3("data", bucket, _moto.Endpoint)],
                // A generous call timeout: on a loaded test machine a timed-out tier call is a (correct) miss that would
                // turn the remote-GET count into a measure of the load.
                SharedCache = new SharedCacheConfig { Engine = SharedCacheEngines.Redis, Endpoints = endpoints, Prefix = _prefix, TimeoutMilliseconds = 5_000 },
            },
            _moto.ClientEnvironment);

    private async Task<List<(string Method, string Url)>> ObjectGetsAsync(string bucket) =>
        [.. (await _moto.RecordedRequestsAsync()).Where(r => r.Method == "GET" && r.Url.Contains($"/{bucket}/shared/", StringComparison.Ordinal))];

    /// <summary>Puts are written around in the background: wait until the tier holds the object's blocks.</summary>
    private static Task WaitForFillsAsync(SidecarProcess sidecar, int blocks) =>
        TierTesting.Until(async () => await MetricAsync(sidecar, "fluid_sidecar_shared_tier_fills_total") >= blocks, $"{blocks} blocks written to the tier");

    private static async Task<string> StatusAsync(SidecarProcess sidecar)
    {
        using var admin = new HttpClient { BaseAddress = sidecar.AdminLocalEndpoint };
        return await admin.GetStringAsync(new Uri("/status", UriKind.Relative));
    }

    private static async Task<double> MetricAsync(SidecarProcess sidecar, string name)
    {
        using var admin = new HttpClient { BaseAddress = sidecar.AdminEndpoint };
        var text = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/metrics has no {name}:\n{text}");
    }
}
