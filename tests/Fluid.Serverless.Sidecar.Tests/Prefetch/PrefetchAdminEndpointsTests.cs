using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

/// <summary>
/// Boots real Kestrel on 127.0.0.1:0 with AddPrefetch and the admin API, once mapped as routes (MapPrefetchAdmin)
/// and once as the routing-free middleware in a MapWhen branch (UsePrefetchAdmin), as the admin port uses it.
/// </summary>
public abstract class PrefetchAdminEndpointsTests(bool asMiddleware) : IAsyncLifetime
{
    private readonly TempDataset _data = new();
    private readonly StandInDatasetRegistry _registry = new();
    private CountingObjectSource _source = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    protected HttpClient Client => _client;

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 40; i++)
        {
            _data.Write($"train/{i:D2}.bin", 3000);
        }

        _source = new CountingObjectSource(new LocalObjectSource(_data.Root)) { ReadGate = new TaskCompletionSource() };
        var datasetConfig = new DatasetConfig { Name = "ds", Source = "local://" + _data.Root, Prefetch = ["train/1*"] };
        _registry.Publish(new DatasetSnapshot(new Dictionary<string, Dataset> { ["ds"] = new(datasetConfig, _source) }, 1));

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var cache = new MemoryBlockCache(4096, long.MaxValue);
        builder.Services.AddSingleton<IBlockCache>(cache);
        builder.Services.AddSingleton<IObjectReader>(new BlockCacheObjectReader(cache));
        builder.Services.AddSingleton<IDatasetRegistry>(_registry);
        builder.Services.AddPrefetch(new PrefetchConfig { WaitForReady = true, Workers = 4 });
        _app = builder.Build();
        var readiness = new HealthCheckOptions { Predicate = r => r.Tags.Contains(PrefetchReadinessCheck.ReadyTag) };
        if (asMiddleware)
        {
            _app.MapWhen(_ => true, admin =>
            {
                admin.UseHealthChecks("/readyz", readiness);
                admin.UsePrefetchAdmin();
                admin.Run(context =>
                {
                    context.Response.StatusCode = 404;
                    return Task.CompletedTask;
                });
            });
        }
        else
        {
            _app.MapHealthChecks("/readyz", readiness);
            _app.MapPrefetchAdmin();
        }

        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        _source.ReadGate?.TrySetResult();
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task Readyz_WaitForReady_503UntilConfigPrefetchCompletes()
    {
        using (var notReady = await _client.GetAsync(new Uri("/readyz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        }

        _source.ReadGate!.SetResult();
        var list = await PollAsync("/prefetch", doc => doc.RootElement.GetProperty("jobs")[0].GetProperty("phase").GetString() == "Complete");

        var job = list.RootElement.GetProperty("jobs")[0];
        Assert.Equal("Config", job.GetProperty("origin").GetString());
        Assert.Equal(10, job.GetProperty("filesDone").GetInt64());
        Assert.Equal(30000, job.GetProperty("bytesDone").GetInt64());
        using var ready = await _client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Post_ValidRequest_202WithIdAndJobCompletes()
    {
        _source.ReadGate!.SetResult();

        using var response = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json("""{"dataset": "ds", "paths": ["train/2*", "train/30.bin"]}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var id = body.RootElement.GetProperty("id").GetString()!;
        Assert.Equal($"/prefetch/{id}", response.Headers.Location!.OriginalString);

        using var done = await PollAsync($"/prefetch/{id}", doc => doc.RootElement.GetProperty("phase").GetString() == "Complete");
        Assert.Equal(11, done.RootElement.GetProperty("filesTotal").GetInt64());
        Assert.Equal(11, done.RootElement.GetProperty("filesDone").GetInt64());
        Assert.Equal("Admin", done.RootElement.GetProperty("origin").GetString());
        Assert.True(done.RootElement.GetProperty("totalsFinal").GetBoolean());
    }

    [Fact]
    public async Task Post_MoreRunningJobsThanTheCap_429NamingTheLimit_AcceptedAgainAfterACancel()
    {
        var cap = new PrefetchOptions().MaxRunningAdminJobs;
        var ids = new List<string>();
        for (var i = 0; i < cap; i++)
        {
            using var accepted = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json("""{"dataset": "ds", "paths": ["train/"]}"""));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            ids.Add((await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }

        using (var refused = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json("""{"dataset": "ds", "paths": ["train/"]}""")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var body = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("MaxRunningAdminJobs", body.GetProperty("limit").GetString());
            Assert.Equal(cap, body.GetProperty("value").GetInt64());
            Assert.Contains("MaxRunningAdminJobs", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        using (await _client.DeleteAsync(new Uri($"/prefetch/{ids[0]}", UriKind.Relative)))
        {
        }

        using var again = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json("""{"dataset": "ds", "paths": ["train/"]}"""));
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
    }

    [Fact]
    public async Task Post_TooManyEntries_429NamingTheLimit()
    {
        var paths = string.Join(", ", Enumerable.Range(0, new PrefetchOptions().MaxEntriesPerAdminJob + 1).Select(i => $"\"train/{i}.bin\""));
        using var refused = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json($$"""{"dataset": "ds", "paths": [{{paths}}]}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("MaxEntriesPerAdminJob", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("limit").GetString());
    }

    [Fact]
    public async Task Delete_RunningJob_CancelsIt()
    {
        using var started = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json("""{"dataset": "ds", "paths": ["train/"]}"""));
        var id = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var cancelled = await _client.DeleteAsync(new Uri($"/prefetch/{id}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        var progress = await cancelled.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Cancelled", progress.GetProperty("phase").GetString());
        Assert.Equal(0, progress.GetProperty("filesDone").GetInt64());
    }

    [Theory]
    [InlineData("{not json", HttpStatusCode.BadRequest, "not valid JSON")]
    [InlineData("""{"paths": ["a/"]}""", HttpStatusCode.BadRequest, "'dataset'")]
    [InlineData("""{"dataset": "ds", "paths": []}""", HttpStatusCode.BadRequest, "'paths'")]
    [InlineData("""{"dataset": "ds", "paths": ["../x"]}""", HttpStatusCode.BadRequest, "'../x'")]
    [InlineData("""{"dataset": "nope", "paths": ["a/"]}""", HttpStatusCode.NotFound, "dataset 'nope'")]
    public async Task Post_BadRequest_ClearErrorNamingTheInput(string body, HttpStatusCode status, string expected)
    {
        using var response = await _client.PostAsync(new Uri("/prefetch", UriKind.Relative), Json(body));

        Assert.Equal(status, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAndDelete_UnknownId_404()
    {
        using var get = await _client.GetAsync(new Uri("/prefetch/pf-999", UriKind.Relative));
        using var delete = await _client.DeleteAsync(new Uri("/prefetch/pf-999", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private async Task<JsonDocument> PollAsync(string path, Func<JsonDocument, bool> done)
    {
        // A generous deadline only to avoid hanging the suite; the assertion is on the state, not the time.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var doc = JsonDocument.Parse(await _client.GetStringAsync(new Uri(path, UriKind.Relative)));
            if (done(doc) || DateTime.UtcNow > deadline)
            {
                return doc;
            }

            doc.Dispose();
            await Task.Delay(20);
        }
    }
}

public sealed class PrefetchAdminRoutesTests() : PrefetchAdminEndpointsTests(asMiddleware: false);

public sealed class PrefetchAdminMiddlewareTests() : PrefetchAdminEndpointsTests(asMiddleware: true)
{
    [Theory]
    [InlineData("PUT", "/prefetch", "GET, POST")]
    [InlineData("POST", "/prefetch/pf-1", "GET, DELETE")]
    public async Task WrongMethod_405WithAllow(string method, string path, string allow)
    {
        using var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task OtherAdminPath_FallsThroughToNext()
    {
        using var response = await Client.GetAsync(new Uri("/prefetchx", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, response.Content.Headers.ContentLength);
    }
}
