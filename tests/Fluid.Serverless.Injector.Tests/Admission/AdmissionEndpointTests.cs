using System.Net;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Admission;

/// <summary>Bad input over real HTTPS: every request gets a clear status and message, and the server keeps serving.</summary>
public sealed class AdmissionEndpointTests : IAsyncLifetime
{
    private InjectorServer _server = null!;

    public async Task InitializeAsync() => _server = await InjectorServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string, HttpStatusCode, string> BadInputs => new()
    {
        { "", "application/json", HttpStatusCode.BadRequest, "empty body" },
        { "{}", "text/plain", HttpStatusCode.UnsupportedMediaType, "expected application/json" },
        { "{\"apiVersion\":", "application/json", HttpStatusCode.BadRequest, "malformed JSON" },
        { "[1,2]", "application/json", HttpStatusCode.BadRequest, "expected a JSON object" },
        { "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"a\"}}", "application/json", HttpStatusCode.BadRequest, "unsupported AdmissionReview version 'admission.k8s.io/v1beta1'" },
        { "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "application/json", HttpStatusCode.BadRequest, "expected request.uid" },
        { "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"a\",\"kind\":{\"kind\":\"Pod\"},\"operation\":\"CREATE\"}}", "application/json", HttpStatusCode.BadRequest, "needs request.object" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Mutate_BadInput_ClearErrorAndServerKeepsServing(string body, string contentType, HttpStatusCode expectedStatus, string expectedMessage)
    {
        using var response = await _server.PostAsync("/mutate", body, contentType);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(expectedStatus, response.StatusCode);
        Assert.Contains(expectedMessage, JsonNode.Parse(text)!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        using var health = await _server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Mutate_BodyOverLimit_413AndServerKeepsServing()
    {
        var huge = "{\"apiVersion\":\"" + new string('x', 9 * 1024 * 1024) + "\"}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mutate") { Content = new StringContent(huge, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true; // the server answers before the body is sent, as the API server's client would see it
        using var response = await _server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var health = await _server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Mutate_Get_MethodNotAllowed()
    {
        using var response = await _server.Client.GetAsync("/mutate");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Mutate_NonPodKind_AllowedUnchangedWithUid()
    {
        var review = """
            {"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"cm-1","kind":{"group":"","version":"v1","kind":"ConfigMap"},
             "resource":{"group":"","version":"v1","resource":"configmaps"},"operation":"CREATE","namespace":"default",
             "object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"serverless.fluid.io/inject":"true"}}}}}
            """;
        using var response = await _server.PostAsync("/mutate", review);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cm-1", answer["response"]!["uid"]!.GetValue<string>());
        Assert.True(answer["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(answer["response"]!["patch"]);
    }

    [Fact]
    public async Task Mutate_PodStatusSubresource_AllowedUnchanged()
    {
        var review = AdmissionReviews.ForPod(new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["serverless.fluid.io/inject"] = "true" } } }, "default");
        review["request"]!["subResource"] = "status";
        using var response = await _server.PostAsync("/mutate", review.ToJsonString());
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.True(answer["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(answer["response"]!["patch"]);
    }

    [Fact]
    public async Task Metrics_AfterAdmissions_CountsOutcomesAndLatency()
    {
        using (await _server.PostAsync("/mutate", "")) { }
        using (await _server.PostAsync("/mutate", "{}", "text/plain")) { }
        var pod = (JsonObject)JsonNode.Parse("""{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}""")!;
        await _server.ReviewAsync(pod, "default");

        var metrics = await _server.Client.GetStringAsync("/metrics");

        Assert.Contains("fluid_injector_admissions_total{outcome=\"bad_request\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_injector_admissions_total{outcome=\"skipped\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_injector_admission_duration_seconds_count 3", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_injector_admission_duration_seconds_bucket{le=\"+Inf\"} 3", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_CertificateLoadedAndNoWatches_Ready()
    {
        using var response = await _server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task PlainHttp_Refused()
    {
        using var client = new HttpClient { BaseAddress = new UriBuilder(_server.BaseAddress) { Scheme = "http" }.Uri };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("/healthz"));
    }
}
