using System.Globalization;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>
/// <c>fluid-sidecar warm</c>, what a DataLoad's Job runs: the real sidecar binary against moto (the remote; its request
/// recorder counts GETs) and a real redis-server (the tier). After the warm-up a second, serving sidecar with an empty
/// local cache must read the targets from the tier only.
/// </summary>
public sealed class WarmCommandTests : IAsyncLifetime
{
    private const long Size = (20L * 1024 * 1024) + 12_345; // 6 blocks of 4 MiB, the last one short
    private readonly string _prefix = "w-" + Guid.NewGuid().ToString("N")[..8] + "/";
    private readonly string _sourceDirectory = Directory.CreateTempSubdirectory("fluid-warm-source-").FullName;
    private readonly string _workDirectory = Directory.CreateTempSubdirectory("fluid-warm-work-").FullName;
    private readonly string _redisDirectory = Path.Join(Path.GetTempPath(), "fluid-warm-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _redisPort = FreePort.Next();
    private MotoProcess _moto = null!;
    private ServerProcess _redis = null!;

    private string RedisEndpoint => "127.0.0.1:" + _redisPort.ToString(CultureInfo.InvariantCulture);

    public async Task InitializeAsync()
    {
        _moto = await MotoProcess.StartAsync();
        _redis = await RedisServers.StartAsync(_redisPort, _redisDirectory, cluster: false);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _moto.DisposeAsync();
        Directory.Delete(_sourceDirectory, recursive: true);
        Directory.Delete(_workDirectory, recursive: true);
        if (Directory.Exists(_redisDirectory))
        {
            Directory.Delete(_redisDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Warm_TargetsIntoTheTier_ThenASecondSidecarReadsThemWithNoRemoteGets()
    {
        var (bucket, hashes) = await SeedAsync(("models/7b/weights.bin", Size), ("models/tokenizer.json", 70_000), ("other/skip.bin", 1_000));

        var warm = await RunWarmAsync(bucket, ["models/7b/", "models/tokenizer.json"]);

        Assert.True(warm.ExitCode == 0, warm.ToString());
        Assert.Contains("warm: dataset 'data': Complete, 2/2 files", warm.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("warm: shared tier: 7 blocks", warm.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("warm: complete", warm.StandardOutput, StringComparison.Ordinal);
        var keys = (await RedisServers.CliAsync("-p", _redisPort.ToString(CultureInfo.InvariantCulture), "--scan", "--pattern", _prefix + "blk/*"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(7, keys.Length); // 6 + 1 blocks; other/skip.bin was not a target

        await _moto.StartRecordingAsync();
        await using var serving = await SidecarProcess.StartAsync(Config(bucket, []), _moto.ClientEnvironment);
        using var http = S3Http.CreateClient();
        foreach (var key in new[] { "models/7b/weights.bin", "models/tokenizer.json" })
        {
            Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, serving.S3Endpoint, "data", key));
        }

        var remoteGets = (await _moto.RecordedRequestsAsync()).Where(r => r.Method == "GET" && r.Url.Contains($"/{bucket}/models/", StringComparison.Ordinal)).ToList();
        Assert.True(remoteGets.Count == 0, $"expected every block from the tier, got remote GETs:\n{string.Join('\n', remoteGets)}\n{serving.Describe()}");
    }

    [Fact]
    public async Task Warm_MissingTarget_ExitsNonZeroNamingIt()
    {
        var (bucket, _) = await SeedAsync(("models/tokenizer.json", 70_000));

        var warm = await RunWarmAsync(bucket, ["models/tokenizer.json", "models/absent/"]);

        Assert.True(warm.ExitCode == 1, warm.ToString());
        Assert.Contains("models/absent/", warm.StandardError, StringComparison.Ordinal);
        Assert.Contains("dataset 'data' is Failed", warm.StandardError, StringComparison.Ordinal);
        Assert.Contains("warm: failed", warm.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warm_ConfigWithoutSharedCache_ExitCode2()
    {
        var config = Config("any-bucket", ["models/"]) with { SharedCache = null };

        var warm = await RunWarmAsync(config);

        Assert.True(warm.ExitCode == 2, warm.ToString());
        Assert.Contains("has no sharedCache section", warm.StandardError, StringComparison.Ordinal);
    }

    private Task<CommandRunner.Result> RunWarmAsync(string bucket, IReadOnlyList<string> targets) => RunWarmAsync(Config(bucket, targets));

    private async Task<CommandRunner.Result> RunWarmAsync(SidecarConfig config)
    {
        var path = Path.Combine(_workDirectory, Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config with
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = FreePort.Next() },
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = FreePort.Next(), LocalPort = FreePort.Next() },
            Cache = config.Cache with { Directory = Path.Combine(_workDirectory, "cache-" + Guid.NewGuid().ToString("N")[..8]) },
        }, ContractsJsonContext.Default.SidecarConfig));
        var (program, arguments) = SidecarProcess.Command("warm", "--config", path, "--progress-seconds", "0.5");
        return await CommandRunner.RunAsync(program, arguments, _moto.ClientEnvironment.ToDictionary(e => e.Key, e => (string?)e.Value), TimeSpan.FromMinutes(3));
    }

    private SidecarConfig Config(string bucket, IReadOnlyList<string> targets)
    {
        var dataset = TestDatasets.S3("data", bucket, _moto.Endpoint);
        dataset.Prefetch = targets;
        return new SidecarConfig
        {
            Datasets = [dataset],
            // generous: on a loaded test machine a timed-out tier call would be a (correct) miss, not what is tested here
            SharedCache = new SharedCacheConfig { Engine = SharedCacheEngines.Redis, Endpoints = [RedisEndpoint], Prefix = _prefix, TimeoutMilliseconds = 5_000, MaxPendingWrites = 64 },
        };
    }

    private async Task<(string Bucket, IReadOnlyDictionary<string, string> Hashes)> SeedAsync(params (string Key, long Size)[] files)
    {
        var bucket = $"warm-{Guid.NewGuid():N}"[..20];
        var root = Path.Combine(_sourceDirectory, bucket);
        var hashes = TestDatasets.WriteFiles(root, files);
        using var s3 = _moto.CreateClient();
        await TestDatasets.UploadDirectoryAsync(s3, bucket, root, hashes.Keys);
        return (bucket, hashes);
    }
}
