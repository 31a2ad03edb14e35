using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Passthrough;

/// <summary>
/// Passthrough with a broken upstream: a sidecar process whose upstream is a fault-injecting proxy in front of moto,
/// with a small breaker (2 failures open it for 1 s) so the test runs in seconds.
/// </summary>
public sealed class UpstreamCircuitBreakerTests : IAsyncLifetime
{
    private const string Bucket = "passthrough-breaker";
    private MotoProcess _moto = null!;
    private FaultProxy _proxy = null!;
    private SidecarProcess _sidecar = null!;

    public async Task InitializeAsync()
    {
        _moto = await MotoProcess.StartAsync();
        using (var s3 = _moto.CreateClient())
        {
            await s3.PutBucketAsync(Bucket);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = "hello.txt", ContentBody = "hello" });
        }

        _proxy = await FaultProxy.StartAsync(_moto.Endpoint.ToString());
        var environment = new Dictionary<string, string>(_moto.ClientEnvironment)
        {
            ["FLUID_TEST_UPSTREAM_KEY"] = MotoProcess.AccessKey,
            ["FLUID_TEST_UPSTREAM_SECRET"] = MotoProcess.SecretKey,
        };
        _sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Upstream = new UpstreamConfig
                {
                    Endpoint = _proxy.Endpoint,
                    Region = MotoProcess.Region,
                    AccessKeyIdEnv = "FLUID_TEST_UPSTREAM_KEY",
                    SecretAccessKeyEnv = "FLUID_TEST_UPSTREAM_SECRET",
                    Options = new Dictionary<string, string>
                    {
                        ["breakerMinimumThroughput"] = "2",
                        ["breakerFailureRatio"] = "0.5",
                        ["breakerBreakSeconds"] = "1",
                        ["attemptTimeoutSeconds"] = "2",
                    },
                },
            },
            environment);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        await _proxy.DisposeAsync();
        await _moto.DisposeAsync();
    }

    [Fact]
    public async Task Get_UpstreamFailing_5xxUnchangedThenServiceUnavailableWithoutUpstreamThenRecovers()
    {
        using var app = new AmazonS3Client(
            new BasicAWSCredentials("app-only-key", "app-only-secret"),
            new AmazonS3Config { ServiceURL = _sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        _proxy.FailAll(new Fault.Status(500, "InternalError"));

        var first = await Assert.ThrowsAsync<AmazonS3Exception>(() => app.GetObjectAsync(Bucket, "hello.txt"));
        var second = await Assert.ThrowsAsync<AmazonS3Exception>(() => app.GetObjectAsync(Bucket, "hello.txt"));

        // The upstream's own errors reach the client unchanged.
        Assert.Equal(("InternalError", HttpStatusCode.InternalServerError), (first.ErrorCode, first.StatusCode));
        Assert.Equal(("InternalError", HttpStatusCode.InternalServerError), (second.ErrorCode, second.StatusCode));

        // Once open, the breaker answers 503 without asking the upstream. The breaker records an exchange when the
        // forwarder returns, which is just after the client has the whole 500 body; under load the next request can
        // overtake that record and still reach the upstream (another 500). So: the first 503 within a few requests,
        // and the upstream must not have seen that one.
        AmazonS3Exception? open = null;
        var seenByUpstream = 0;
        for (var attempt = 0; attempt < 5 && open is null; attempt++)
        {
            seenByUpstream = _proxy.RequestCount;
            var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => app.GetObjectAsync(Bucket, "hello.txt"));
            if (error.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                open = error;
            }
            else
            {
                Assert.Equal(("InternalError", HttpStatusCode.InternalServerError), (error.ErrorCode, error.StatusCode));
            }
        }

        Assert.NotNull(open);
        Assert.Equal("ServiceUnavailable", open.ErrorCode);
        Assert.Contains(_proxy.Endpoint, open.Message, StringComparison.Ordinal);
        Assert.Equal(seenByUpstream, _proxy.RequestCount);

        _proxy.Heal();
        string? body = null;
        for (var attempt = 0; attempt < 50 && body is null; attempt++)
        {
            await Task.Delay(200);
            try
            {
                using var response = await app.GetObjectAsync(Bucket, "hello.txt");
                body = await new StreamReader(response.ResponseStream).ReadToEndAsync();
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                // Still open: the break lasts 1 s.
            }
        }

        Assert.Equal("hello", body);
    }

    [Fact]
    public async Task Get_UpstreamSilent_ServiceUnavailableAfterAttemptTimeout()
    {
        using var http = new HttpClient { BaseAddress = _sidecar.S3Endpoint }.WithAnyKeySignature();
        _proxy.FailAll(new Fault.Latency(TimeSpan.FromSeconds(30)));

        using var response = await http.GetAsync(new Uri($"/{Bucket}/hello.txt", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("<Code>ServiceUnavailable</Code>", body, StringComparison.Ordinal);
        Assert.Contains(_proxy.Endpoint, body, StringComparison.Ordinal);
    }
}
