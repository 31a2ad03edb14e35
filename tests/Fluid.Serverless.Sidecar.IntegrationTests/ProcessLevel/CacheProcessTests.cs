using System.Net;
using System.Xml.Linq;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// The block cache as a user of the sidecar process sees it, with moto as the remote: a warm cache survives a restart
/// (no object bytes fetched again, counted by moto's request recorder), kill -9 in the middle of a cold fill never
/// leads to wrong bytes, and a remote that goes down still leaves cached objects served and cold ones a 503 S3 error.
/// </summary>
public sealed class CacheProcessTests : IAsyncLifetime
{
    private MotoProcess _moto = null!;
    private string _sourceDirectory = "";

    public async Task InitializeAsync()
    {
        _moto = await MotoProcess.StartAsync();
        _sourceDirectory = Directory.CreateTempSubdirectory("fluid-cache-source-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _moto.DisposeAsync();
        Directory.Delete(_sourceDirectory, recursive: true);
    }

    /// <summary>A bucket of its own for one test (the recorder is per moto, requests are told apart by bucket).</summary>
    private async Task<(string Bucket, IReadOnlyDictionary<string, string> Hashes)> SeedAsync(params (string Key, long Size)[] files)
    {
        var bucket = $"cache-{Guid.NewGuid():N}"[..20];
        var root = Path.Combine(_sourceDirectory, bucket);
        var hashes = TestDatasets.WriteFiles(root, files);
        using var s3 = _moto.CreateClient();
        await TestDatasets.UploadDirectoryAsync(s3, bucket, root, hashes.Keys);
        return (bucket, hashes);
    }

    private Task<SidecarProcess> StartSidecarAsync(string bucket, string? cacheDirectory = null) =>
        SidecarProcess.StartAsync(
            new SidecarConfig { Datasets = [TestDatasets.S3("data", bucket, _moto.Endpoint, immutable: true)] },
            _moto.ClientEnvironment,
            cacheDirectory);

    [Fact]
    public async Task Restart_WarmCache_NoObjectBytesFetchedFromRemote()
    {
        const string key = "warm/object.bin";
        var (bucket, hashes) = await SeedAsync((key, (10 * 1024 * 1024) + 3));
        await using var sidecar = await StartSidecarAsync(bucket);
        using var http = S3Http.CreateClient();
        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", key));

        await sidecar.TerminateAsync(TimeSpan.FromSeconds(30));
        await _moto.StartRecordingAsync();
        await sidecar.RestartAsync();
        var afterRestart = await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", key);

        Assert.Equal(hashes[key], afterRestart);
        // A HEAD may confirm the ETag the cache is keyed by; object bytes (GET) must all come from the disk cache.
        var remoteGets = (await _moto.RecordedRequestsAsync())
            .Where(r => r.Method == "GET" && r.Url.Contains($"/{bucket}/warm/", StringComparison.Ordinal))
            .ToList();
        Assert.True(remoteGets.Count == 0, $"expected no GET of the object at the remote after a warm restart, got:\n{string.Join('\n', remoteGets)}\n{sidecar.Describe()}");
    }

    [Fact]
    public async Task AfterPrefetch_ReadingEveryObject_MakesNoRequestToTheRemote()
    {
        var files = Enumerable.Range(0, 21).Select(i => ($"prefetched/{i:D2}.bin", 1_000L + (i * 4_099))).ToArray();
        var (bucket, hashes) = await SeedAsync(files);
        var dataset = TestDatasets.S3("data", bucket, _moto.Endpoint, immutable: true) with { Prefetch = ["prefetched/"] };
        // ready only once the prefetch has completed
        await using var sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig { Prefetch = new PrefetchConfig { WaitForReady = true }, Datasets = [dataset] }, _moto.ClientEnvironment);
        using var http = S3Http.CreateClient();

        await _moto.StartRecordingAsync();
        foreach (var (key, sha) in hashes)
        {
            Assert.Equal(sha, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", key));
        }

        var remote = (await _moto.RecordedRequestsAsync()).Where(r => r.Url.Contains($"/{bucket}", StringComparison.Ordinal)).ToList();
        Assert.True(remote.Count == 0, $"expected no request to the remote after the prefetch, got:\n{string.Join('\n', remote)}\n{sidecar.Describe()}");
    }

    [Fact]
    public async Task KillDuringColdFill_Restart_DownloadsAreByteExact()
    {
        const string key = "big/cold.bin";
        const long size = (48L * 1024 * 1024) + 4_321;
        var (bucket, hashes) = await SeedAsync((key, size));
        await using var sidecar = await StartSidecarAsync(bucket);
        using var http = S3Http.CreateClient();

        using (var response = await S3Http.GetAsync(http, sidecar.S3Endpoint, "data", key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            for (long read = 0; read < 6 * 1024 * 1024;)
            {
                var n = await body.ReadAsync(buffer);
                Assert.True(n > 0, "the object ended early");
                read += n;
            }

            // Blocks and read-ahead are in flight: kill -9 now, as a node failure or the OOM killer would.
            sidecar.Kill();
        }

        await sidecar.RestartAsync();

        Assert.Equal(hashes[key], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", key));
        var source = await File.ReadAllBytesAsync(Path.Combine(_sourceDirectory, bucket, key));
        foreach (var (first, last) in new[] { (0L, 99L), ((4L * 1024 * 1024) - 10, (4L * 1024 * 1024) + 10), (size - 5_000, size - 1) })
        {
            using var response = await S3Http.GetAsync(http, sidecar.S3Endpoint, "data", key, first, last);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal(Sha256Hex.Of(source.AsSpan((int)first, (int)(last - first + 1))), Sha256Hex.Of(await response.Content.ReadAsByteArrayAsync()));
        }
    }

    [Fact]
    public async Task RemoteDown_WarmCache_CachedObjectServedColdObjectIs503Xml()
    {
        const string warmKey = "warm.bin";
        const string coldKey = "cold.bin";
        var (bucket, hashes) = await SeedAsync((warmKey, (5 * 1024 * 1024) + 1), (coldKey, 1024 * 1024));
        await using var sidecar = await StartSidecarAsync(bucket);
        using var http = S3Http.CreateClient();
        Assert.Equal(hashes[warmKey], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", warmKey));

        _moto.Stop();

        Assert.Equal(hashes[warmKey], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", warmKey));
        using (var cold = await S3Http.GetAsync(http, sidecar.S3Endpoint, "data", coldKey))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, cold.StatusCode);
            var error = XDocument.Parse(await cold.Content.ReadAsStringAsync()).Root!;
            Assert.Equal("Error", error.Name.LocalName);
            Assert.Contains(error.Element("Code")?.Value, new[] { "ServiceUnavailable", "SlowDown" });
            Assert.Equal(cold.Headers.GetValues("x-amz-request-id").Single(), error.Element("RequestId")?.Value);
        }

        // Still serving after the failure.
        Assert.Equal(hashes[warmKey], await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", warmKey));
    }
}
