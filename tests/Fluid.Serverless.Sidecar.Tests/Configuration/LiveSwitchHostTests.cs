using System.Collections;
using System.Net;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Prefetch;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

/// <summary>
/// The live-switch test on the real host: config read by SidecarConfigLoader from a kubelet-style
/// annotations file, AddFluidSidecar with its watcher, real Kestrel, DiskBlockCache and ObjectReader. The only
/// test part is a source factory wrapper (over the real SourceFactory) that counts reads and can hold them, to keep
/// a download in flight across the switch.
/// </summary>
public sealed class LiveSwitchHostTests : IAsyncLifetime
{
    private static readonly TimeSpan SafetyTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDataset _old = new();
    private readonly TempDataset _new = new();
    private readonly KubeletProjectedDirectory _podInfo = new();
    private readonly CountingDecorator _decorator = new();
    private readonly string _cacheDirectory = Path.Combine(Path.GetTempPath(), "fluid-live-switch-cache-" + Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;
    private HttpClient _s3 = null!;
    private HttpClient _admin = null!;
    private byte[] _oldBig = null!;

    public async Task InitializeAsync()
    {
        _oldBig = _old.Write("big.bin", (8 * 1024 * 1024) + 3, seed: 1);
        _new.Write("big.bin", 1024, seed: 2);
        _new.Write("only-in-new.txt", 10);
        // "spare" admits the new directory at start: a live reload may point a local dataset only at a path the pod was
        // admitted with (ConfigReloadGuard).
        _podInfo.WriteConfig(Config(_old, spare: _new));

        var load = SidecarConfigLoader.Load([], new Hashtable { [EnvironmentNames.SidecarAnnotationsFile] = _podInfo.AnnotationsPath });
        Assert.True(load.Succeeded, string.Join("; ", load.Errors));

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<ISourceFactory>(_decorator);
        Assert.NotNull(load.Watch);
        builder.AddFluidSidecar(load.Config!, load.Origin, load.Watch);
        _app = builder.Build();
        _app.MapFluidSidecar();
        await _app.StartAsync();
        var listeners = _app.Services.GetRequiredService<SidecarListeners>();
        _s3 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{listeners.S3Port}") };
        _admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{listeners.AdminPort}") };
    }

    public async Task DisposeAsync()
    {
        foreach (var source in _decorator.Created)
        {
            source.ReadGate?.TrySetResult();
        }

        _s3.Dispose();
        _admin.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _old.Dispose();
        _new.Dispose();
        _podInfo.Dispose();
        Directory.Delete(_cacheDirectory, recursive: true);
    }

    [Fact]
    public async Task SymlinkSwap_EndpointServesNewSourceWhileOldDownloadCompletesWithCorrectBytes()
    {
        var oldSource = _decorator.Created[0];
        Assert.Equal(2, _decorator.Created.Count);
        using (var before = await _s3.GetAsync(new Uri("/models/only-in-new.txt", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        // A long download from the old source, held after its first block.
        var gate = new TaskCompletionSource();
        oldSource.ReadGate = gate;
        var download = _s3.GetAsync(new Uri("/models/big.bin", UriKind.Relative), HttpCompletionOption.ResponseContentRead);
        await WaitUntilAsync(() => oldSource.Reads >= 1);

        _podInfo.WriteConfig(Config(_new));
        var served = await PollUntilAsync("/models/only-in-new.txt", HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, served);
        using (var newBig = await _s3.GetAsync(new Uri("/models/big.bin", UriKind.Relative)))
        {
            Assert.Equal(1024, (await newBig.Content.ReadAsByteArrayAsync()).Length);
        }

        Assert.False(download.IsCompleted);
        gate.SetResult();
        using var oldResponse = await download.WaitAsync(SafetyTimeout);
        Assert.Equal(HttpStatusCode.OK, oldResponse.StatusCode);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(_oldBig)), Convert.ToHexString(SHA256.HashData(await oldResponse.Content.ReadAsByteArrayAsync())));
    }

    [Fact]
    public async Task InvalidConfig_OldKeepsServingAndFailureIsCounted()
    {
        _podInfo.WriteRaw("serverless.fluid.io/sidecar-config=\"{\\\"datasets\\\": [{\\\"name\\\": \\\"BAD NAME\\\", \\\"source\\\": \\\"local:///x\\\"}]}\"\n");

        var metrics = "";
        var deadline = DateTime.UtcNow + SafetyTimeout;
        while (!metrics.Contains("fluid_sidecar_config_reload_failures_total 1\n", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            metrics = await _admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        Assert.Contains("fluid_sidecar_config_reload_failures_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_config_reloads_total 0\n", metrics, StringComparison.Ordinal);
        var watcher = _app.Services.GetRequiredService<ConfigFileWatcher>();
        Assert.Contains("datasets[0].name: 'BAD NAME'", watcher.Status.LastError, StringComparison.Ordinal);
        using var stillServed = await _s3.GetAsync(new Uri("/models/big.bin", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        Assert.Equal(_oldBig.Length, (await stillServed.Content.ReadAsByteArrayAsync()).Length);
    }

    private SidecarConfig Config(TempDataset data, TempDataset? spare = null) => new()
    {
        S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
        Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
        Cache = new CacheConfig { Directory = _cacheDirectory },
        Datasets =
        [
            new DatasetConfig { Name = "models", Source = "local://" + data.Root },
            .. spare is null ? Array.Empty<DatasetConfig>() : [new DatasetConfig { Name = "spare", Source = "local://" + spare.Root }],
        ],
    };

    private async Task<HttpStatusCode> PollUntilAsync(string path, HttpStatusCode wanted)
    {
        var deadline = DateTime.UtcNow + SafetyTimeout;
        while (true)
        {
            using var response = await _s3.GetAsync(new Uri(path, UriKind.Relative));
            if (response.StatusCode == wanted || DateTime.UtcNow > deadline)
            {
                return response.StatusCode;
            }

            await Task.Delay(20);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + SafetyTimeout;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
