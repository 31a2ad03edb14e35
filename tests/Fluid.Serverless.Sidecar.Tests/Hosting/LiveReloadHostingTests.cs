using System.Net;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.SourceChain;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>
/// The composition root with a watched config file (what --config gives): the real SourceFactory, block cache,
/// reader and ConfigFileWatcher. Rewriting the file switches datasets without a restart; a bad file is refused.
/// The waits are bounded loops (a hung reload fails the test), not speed assertions.
/// </summary>
public sealed class LiveReloadHostingTests : IAsyncLifetime
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("sidecar-live-reload-");
    private WebApplication _app = null!;
    private string _configPath = "";
    private string _one = "";
    private string _two = "";
    private int _s3Port;
    private int _adminPort;

    public async Task InitializeAsync()
    {
        _one = _root.CreateSubdirectory("one").FullName;
        _two = _root.CreateSubdirectory("two").FullName;
        await File.WriteAllTextAsync(Path.Combine(_one, "a.txt"), "from one");
        await File.WriteAllTextAsync(Path.Combine(_two, "a.txt"), "from two");
        _configPath = Path.Combine(_root.FullName, "config.json");
        // "spare" admits the whole temp directory: a live reload may point a local dataset only at paths under a local
        // source the pod started with (ConfigReloadGuard).
        var config = Config(("data", _one), ("spare", _root.FullName));
        await WriteConfigAsync(config);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddFluidSidecar(config, "test", new ConfigFileWatcherOptions { Path = _configPath, Kind = ConfigFileKind.Json, PollInterval = TimeSpan.FromMilliseconds(100) });
        _app = builder.Build();
        _app.MapFluidSidecar();
        await _app.StartAsync();
        var listeners = _app.Services.GetRequiredService<SidecarListeners>();
        (_s3Port, _adminPort) = (listeners.S3Port, listeners.AdminLocalPort);
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _root.Delete(recursive: true);
    }

    [Fact]
    public async Task ConfigFileRewritten_NewDatasetServed_BadConfigRefusedAndOldKept()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_s3Port}") };
        Assert.Equal("from one", await http.GetStringAsync("/data/a.txt"));

        // Point "data" at another directory and add a second dataset, as a kubectl annotate would.
        await WriteConfigAsync(Config(("data", _two), ("extra", _one)));
        Assert.True(await EventuallyAsync(async () => await GetStatusAsync(http, "/extra/a.txt") == HttpStatusCode.OK));
        Assert.Equal("from two", await http.GetStringAsync("/data/a.txt"));

        // A config that does not validate is refused as a whole: both datasets keep serving.
        await File.WriteAllTextAsync(_configPath + ".tmp", """{ "datasets": [ { "name": "Bad_Name", "source": "local:///x" } ] }""");
        File.Move(_configPath + ".tmp", _configPath, overwrite: true);
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_adminPort}") };
        Assert.True(await EventuallyAsync(async () => (await admin.GetStringAsync("/status")).Contains("Bad_Name", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(http, "/extra/a.txt"));
        Assert.Equal("from two", await http.GetStringAsync("/data/a.txt"));
        var metrics = await admin.GetStringAsync("/metrics");
        Assert.Contains("fluid_sidecar_config_reload_failures_total 1", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_config_reloads_total 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuitEndpoint_PostStopsTheApplication_GetIsRefused()
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_adminPort}") };
        using (var get = await admin.GetAsync(SidecarDefaults.QuitPath))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }

        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);
        using var post = await admin.PostAsync(SidecarDefaults.QuitPath, null);

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.True(lifetime.ApplicationStopping.IsCancellationRequested);
    }

    private static SidecarConfig Config(params (string Name, string Directory)[] datasets) => new()
    {
        S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
        Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
        Cache = new CacheConfig { Directory = Path.Combine(Path.GetTempPath(), "sidecar-live-reload-cache-" + Environment.ProcessId) },
        Datasets = [.. datasets.Select(d => new DatasetConfig { Name = d.Name, Source = "local://" + d.Directory })],
    };

    /// <summary>Writes then renames, so the watcher never reads half a file (kubelet swaps a symlink to the same effect).</summary>
    private async Task WriteConfigAsync(SidecarConfig config)
    {
        await File.WriteAllTextAsync(_configPath + ".tmp", JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig));
        File.Move(_configPath + ".tmp", _configPath, overwrite: true);
    }

    private static async Task<HttpStatusCode> GetStatusAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return response.StatusCode;
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}
