using System.Net;
using System.Text.Json;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>The admin listener: probes, Prometheus metrics, status JSON; and that the two ports do not mix.</summary>
public sealed class AdminEndpointsTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    private readonly TestSidecar _sidecar = fixture.Sidecar;

    [Fact]
    public async Task Healthz_And_Readyz_Return200WithChecksListed()
    {
        using var admin = new HttpClient { BaseAddress = _sidecar.AdminEndpoint };
        using var health = await admin.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", (await health.Content.ReadAsStringAsync()).Trim());

        using var ready = await admin.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var text = await ready.Content.ReadAsStringAsync();
        Assert.StartsWith("Healthy\n", text, StringComparison.Ordinal);
        Assert.Contains("config: Healthy (loaded from test fixture)", text, StringComparison.Ordinal);
        Assert.Contains("datasets: Healthy (3 dataset(s), generation 1)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_CountRequestsByOperationAndStatus_InPrometheusText()
    {
        using var s3 = _sidecar.CreateHttpClient();
        using (await s3.GetAsync("/data/hello.txt"))
        using (await s3.GetAsync("/data/missing.txt"))
        using (await s3.GetAsync("/broken/x"))
        {
        }

        using var admin = new HttpClient { BaseAddress = _sidecar.AdminEndpoint };
        using var response = await admin.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE fluid_sidecar_s3_requests_total counter", text, StringComparison.Ordinal);
        Assert.Matches("""fluid_sidecar_s3_requests_total\{operation="GetObject",status="200"\} [1-9]""", text);
        Assert.Matches("""fluid_sidecar_s3_requests_total\{operation="GetObject",status="404"\} [1-9]""", text);
        Assert.Matches("""fluid_sidecar_s3_requests_total\{operation="GetObject",status="503"\} [1-9]""", text);
        Assert.Matches("""fluid_sidecar_s3_request_duration_seconds_bucket\{operation="GetObject",le="\+Inf"\} [1-9]""", text);
        Assert.Matches("""fluid_sidecar_remote_errors_total\{dataset="broken",kind="unavailable"\} [1-9]""", text);
        Assert.Contains("fluid_sidecar_datasets 3", text, StringComparison.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Every sample line is "name{labels} value" or "name value" with a number.
            if (!line.StartsWith('#'))
            {
                Assert.True(double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out _) || line.EndsWith("+Inf", StringComparison.Ordinal), line);
            }
        }
    }

    [Fact]
    public async Task Status_ListsDatasetsAsJson()
    {
        using var admin = new HttpClient { BaseAddress = _sidecar.AdminLocalEndpoint };
        using var response = await admin.GetAsync("/status");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var datasets = json.RootElement.GetProperty("datasets").EnumerateArray().ToList();
        Assert.Equal(["broken", "data", "scratch"], datasets.Select(d => d.GetProperty("name").GetString()));
        Assert.False(datasets[2].GetProperty("readOnly").GetBoolean());
        Assert.Equal(1, json.RootElement.GetProperty("generation").GetInt64());
        Assert.Equal("test fixture", json.RootElement.GetProperty("configOrigin").GetString());
    }

    [Fact]
    public async Task Status_ReportsGcAndThreadPoolCounters()
    {
        using var admin = new HttpClient { BaseAddress = _sidecar.AdminLocalEndpoint };
        using var response = await admin.GetAsync("/status");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var runtime = json.RootElement.GetProperty("runtime");
        Assert.Equal(GC.MaxGeneration + 1, runtime.GetProperty("gcCollections").GetArrayLength());
        Assert.True(runtime.GetProperty("totalAllocatedBytes").GetInt64() > 0);
        Assert.True(runtime.GetProperty("threadPool").GetProperty("threads").GetInt32() > 0);
        Assert.True(runtime.GetProperty("threadPool").GetProperty("minWorkerThreads").GetInt32() > 0);
        Assert.True(runtime.GetProperty("memoryTrims").GetInt64() >= 0);
    }

    [Fact]
    public async Task Ports_DoNotMix_AdminPathsOnS3PortAreBuckets_S3OnAdminPortIs404()
    {
        using var s3 = _sidecar.CreateHttpClient();
        using (var r = await s3.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Contains("<Code>NoSuchBucket</Code>", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var admin = new HttpClient { BaseAddress = _sidecar.AdminEndpoint };
        using var s3OnAdmin = await admin.GetAsync("/data/hello.txt");
        Assert.Equal(HttpStatusCode.NotFound, s3OnAdmin.StatusCode);
        Assert.DoesNotContain("hello, sidecar", await s3OnAdmin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
