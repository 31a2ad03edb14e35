using System.Net;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// The sidecar as a process, the way a pod runs it: start on a config file, readiness, SIGTERM, kill -9 and restart on
/// the same cache directory, a bad config. A local:// dataset keeps these independent of any remote.
/// </summary>
public sealed class SidecarProcessTests : IDisposable
{
    private const string ObjectKey = "dir/sample.bin";
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("fluid-local-dataset-").FullName;
    private readonly string _objectHash;

    public SidecarProcessTests()
    {
        _objectHash = TestDatasets.WriteFiles(_dataDirectory, [(ObjectKey, (5 * 1024 * 1024) + 17)])[ObjectKey];
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private SidecarConfig LocalConfig() => new() { Datasets = [new DatasetConfig { Name = "local", Source = $"local://{_dataDirectory}" }] };

    [Fact]
    public async Task Start_LocalDataset_ReadyHealthyAndServesBytes()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        using var http = S3Http.CreateClient();

        using var healthz = await http.GetAsync(new Uri(sidecar.AdminEndpoint, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(_objectHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", ObjectKey));
    }

    [Fact]
    public async Task Start_MinimalHandWrittenConfigFile_UsesDefaultsForOmittedSections()
    {
        // What a person (or the injector) writes: only what differs from the defaults; no prefetch, upstream, mode….
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig(), renderConfig: config => $$"""
            {
              "s3": { "port": {{config.S3.Port}} },
              "admin": { "address": "127.0.0.1", "port": {{config.Admin.Port}}, "localPort": {{config.Admin.LocalPort}} },
              "cache": { "directory": "{{config.Cache.Directory}}" },
              "datasets": [ { "name": "local", "source": "local://{{_dataDirectory}}" } ]
            }
            """);
        using var http = S3Http.CreateClient();

        Assert.Equal(_objectHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", ObjectKey));
    }

    [Fact]
    public async Task Terminate_Idle_ExitsWithZero()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());

        // The timeout only keeps a hung process from hanging the suite; it is not a speed assertion.
        var exitCode = await sidecar.TerminateAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode == 0, $"SIGTERM should end the sidecar cleanly.\n{sidecar.Describe()}");
    }

    [Fact]
    public async Task Kill_ThenRestartOnSameCache_ServesSameBytes()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        using var http = S3Http.CreateClient();
        Assert.Equal(_objectHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", ObjectKey));

        sidecar.Kill();
        await sidecar.RestartAsync();

        Assert.Equal(_objectHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", ObjectKey));
    }

    [Fact]
    public async Task Start_InvalidDatasetName_ExitsNonZeroNamingTheBadValue()
    {
        var config = new SidecarConfig { Datasets = [new DatasetConfig { Name = "Not_A_Bucket!", Source = $"local://{_dataDirectory}" }] };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SidecarProcess.StartAsync(config, readyTimeout: TimeSpan.FromSeconds(30)));

        Assert.Contains("exited before it was ready", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(code 0)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Not_A_Bucket!", error.Message, StringComparison.Ordinal);
    }
}
