using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>
/// An nfs://server/export/path dataset through the whole sidecar (composition root, real SourceFactory, block cache,
/// S3 endpoint on 127.0.0.1:0). In a pod, kubelet mounts the export (the injector's in-tree nfs volume) at
/// SidecarDefaults.NfsMountPath(dataset); here a temp directory given as option 'localPath' stands in for that
/// mount: this machine's kernel has no nfs/nfsd file system (not in /proc/filesystems, `mount -t nfs` fails with
/// "No such device"), so no real export can be mounted. The test proves what the sidecar does with the mount.
/// </summary>
public sealed class NfsDatasetHostingTests : IAsyncLifetime
{
    private const string Bucket = "nas-models";
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("sidecar-nfs-dataset-");
    private readonly byte[] _model = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 123);
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private string _export = "";

    public async Task InitializeAsync()
    {
        _export = _root.CreateSubdirectory("export").FullName;
        Directory.CreateDirectory(Path.Combine(_export, "bert"));
        await File.WriteAllBytesAsync(Path.Combine(_export, "bert", "model.bin"), _model);
        await File.WriteAllTextAsync(Path.Combine(_export, "README"), "models on NAS\n");

        var config = new SidecarConfig
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
            Cache = new CacheConfig { Directory = _root.CreateSubdirectory("cache").FullName, BlockSizeBytes = 1024 * 1024 },
            Datasets =
            [
                new DatasetConfig
                {
                    Name = Bucket,
                    Source = "nfs://nas-0a1b.cn-hangzhou.nas.aliyuncs.com/models",
                    Options = new Dictionary<string, string> { ["localPath"] = _export },
                },
            ],
        };
        Assert.Empty(SidecarConfigValidator.Validate(config)); // what the injector checks before admitting the pod

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddFluidSidecar(config, "test");
        _app = builder.Build();
        _app.MapFluidSidecar();
        await _app.StartAsync();
        var listeners = _app.Services.GetRequiredService<SidecarListeners>();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{listeners.S3Port}") };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _root.Delete(recursive: true);
    }

    [Fact]
    public async Task Get_NfsDatasetMountedAtLocalPath_ServesTheExportsBytes()
    {
        var whole = await _http.GetByteArrayAsync($"/{Bucket}/bert/model.bin");
        var again = await _http.GetByteArrayAsync($"/{Bucket}/bert/model.bin"); // from the block cache
        using var ranged = new HttpRequestMessage(HttpMethod.Get, $"/{Bucket}/bert/model.bin");
        ranged.Headers.Range = new RangeHeaderValue(3 * 1024 * 1024 - 10, 3 * 1024 * 1024 + 9);
        using var rangedResponse = await _http.SendAsync(ranged);

        Assert.Equal(SHA256.HashData(_model), SHA256.HashData(whole));
        Assert.Equal(SHA256.HashData(_model), SHA256.HashData(again));
        Assert.Equal(HttpStatusCode.PartialContent, rangedResponse.StatusCode);
        Assert.Equal(_model.AsSpan(3 * 1024 * 1024 - 10, 20).ToArray(), await rangedResponse.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task List_NfsDataset_ShowsTheExportsTreeIncludingFilesAddedLater()
    {
        // a file another NFS client writes after the sidecar started is visible: the mount is read live
        await File.WriteAllTextAsync(Path.Combine(_export, "bert", "vocab.txt"), "[CLS]\n");

        var flat = await _http.GetStringAsync($"/{Bucket}?list-type=2");
        var top = await _http.GetStringAsync($"/{Bucket}?list-type=2&delimiter=%2F");

        Assert.Contains("<Key>bert/model.bin</Key>", flat, StringComparison.Ordinal);
        Assert.Contains("<Key>bert/vocab.txt</Key>", flat, StringComparison.Ordinal);
        Assert.Contains("<Key>README</Key>", flat, StringComparison.Ordinal);
        Assert.Contains("<Prefix>bert/</Prefix>", top, StringComparison.Ordinal);
        Assert.Equal("[CLS]\n", await _http.GetStringAsync($"/{Bucket}/bert/vocab.txt"));
    }

    [Fact]
    public async Task Put_ReadOnlyNfsDataset_AccessDeniedAndExportUnchanged()
    {
        using var put = await _http.WithAnyKeySignature().PutAsync($"/{Bucket}/README", new ByteArrayContent("overwritten"u8.ToArray()));

        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("models on NAS\n", await File.ReadAllTextAsync(Path.Combine(_export, "README")));
    }
}
