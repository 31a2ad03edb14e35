using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// Secrets (a dataset's secretOptions, the pod-local secret key, the upstream's keys) reach the sidecar process as
/// env vars. A request sequence that makes things fail (a bad client signature, a remote that refuses our
/// credentials, a passthrough refused upstream, a config reload that does not build) must not put any of them into
/// stdout/stderr, /status, /metrics or an error body. The remote that refuses is a small Kestrel fake answering
/// 403 SignatureDoesNotMatch the way S3 does (no real store here rejects credentials without an IAM setup).
/// </summary>
public sealed class SecretLeakProcessTests : IAsyncLifetime
{
    private static readonly string DatasetAccessKey = "AKIDDATASET" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
    private static readonly string DatasetSecret = "ds-secret-" + Guid.NewGuid().ToString("N");
    private static readonly string DatasetEndpointSecret = "https://endpoint-secret-" + Guid.NewGuid().ToString("N") + ".invalid:notaport";
    private static readonly string PodSecret = "pod-secret-" + Guid.NewGuid().ToString("N");
    private static readonly string UpstreamAccessKey = "AKIDUPSTREAM" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
    private static readonly string UpstreamSecret = "up-secret-" + Guid.NewGuid().ToString("N");
    private const string PodAccessKey = "pod-key";

    private WebApplication _remote = null!;
    private Uri _remoteEndpoint = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _remote = builder.Build();
        _remote.Run(context =>
        {
            // As S3 answers a signature it cannot verify: the key id it was given and its own string to sign.
            var key = context.Request.Headers.Authorization.ToString();
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.ContentType = "application/xml";
            return HttpMethods.IsHead(context.Request.Method)
                ? Task.CompletedTask
                : context.Response.WriteAsync($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><Authorization>{WebUtility.HtmlEncode(key)}</Authorization></Error>");
        });
        await _remote.StartAsync();
        _remoteEndpoint = new Uri(_remote.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync() => await _remote.DisposeAsync();

    [Fact]
    public async Task FailuresOfEveryKind_NoSecretInLogsStatusMetricsOrErrorBodies()
    {
        var config = new SidecarConfig
        {
            Datasets = [Dataset("refused")],
            Credentials = new PodCredentialsConfig { AccessKeyId = PodAccessKey, SecretAccessKeyEnv = "POD_SECRET" },
            Upstream = new UpstreamConfig { Endpoint = _remoteEndpoint.ToString().TrimEnd('/'), AccessKeyIdEnv = "UP_KEY", SecretAccessKeyEnv = "UP_SECRET" },
        };
        var environment = new Dictionary<string, string>
        {
            ["DS_KEY"] = DatasetAccessKey,
            ["DS_SECRET"] = DatasetSecret,
            ["DS_ENDPOINT"] = DatasetEndpointSecret,
            ["POD_SECRET"] = PodSecret,
            ["UP_KEY"] = UpstreamAccessKey,
            ["UP_SECRET"] = UpstreamSecret,
            ["AWS_EC2_METADATA_DISABLED"] = "true",
        };
        await using var sidecar = await SidecarProcess.StartAsync(config, environment);
        var seen = new StringBuilder();

        // A client that signs with the wrong secret, and one that signs right.
        using (var wrong = Client(sidecar, PodAccessKey, "not-the-secret"))
        {
            var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => wrong.GetObjectAsync("refused", "a.bin"));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            seen.AppendLine(refused.Message).AppendLine(refused.ErrorCode);
        }

        using var right = Client(sidecar, PodAccessKey, PodSecret);
        foreach (var (bucket, key) in new[] { ("refused", "a.bin"), ("not-a-dataset", "b.bin") })
        {
            var failed = await Assert.ThrowsAsync<AmazonS3Exception>(() => right.GetObjectAsync(bucket, key));
            seen.AppendLine(failed.Message).AppendLine(failed.ErrorCode).AppendLine(failed.ResponseBody);
        }

        var listFailed = await Assert.ThrowsAsync<AmazonS3Exception>(() => right.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "refused" }));
        seen.AppendLine(listFailed.Message).AppendLine(listFailed.ResponseBody);

        // Raw error bodies, as a curl user sees them.
        using var http = new HttpClient();
        seen.AppendLine(await (await http.GetAsync(new Uri(sidecar.S3Endpoint, "/refused/a.bin"))).Content.ReadAsStringAsync());

        // A reload that does not build: the endpoint comes from a secret and is not a valid URI.
        var broken = config with { Datasets = [Dataset("refused"), Dataset("broken", endpointFromSecret: true)] };
        await File.WriteAllTextAsync(sidecar.ConfigPath + ".tmp", System.Text.Json.JsonSerializer.Serialize(
            broken with { S3 = sidecar.Config.S3, Admin = sidecar.Config.Admin, Cache = sidecar.Config.Cache }, ContractsJsonContext.Default.SidecarConfig));
        File.Move(sidecar.ConfigPath + ".tmp", sidecar.ConfigPath, overwrite: true);
        using var admin = new HttpClient { BaseAddress = sidecar.AdminLocalEndpoint };
        string status;
        var attempts = 0;
        do
        {
            await Task.Delay(100);
            status = await admin.GetStringAsync("/status");
        }
        while (!HasReloadError(status) && ++attempts < 300);
        Assert.True(HasReloadError(status), status);
        // The reload guard refuses the new secret env var by its name, never by its value.
        Assert.True(status.Contains("DS_ENDPOINT", StringComparison.Ordinal)
            && status.Contains("is not an env var the pod was admitted with", StringComparison.Ordinal), status);
        seen.AppendLine(status);
        seen.AppendLine(await admin.GetStringAsync("/metrics"));
        seen.AppendLine(await admin.GetStringAsync("/prefetch"));

        Assert.Equal(0, await sidecar.TerminateAsync(TimeSpan.FromSeconds(30)));
        seen.AppendLine(sidecar.Output);

        var everything = seen.ToString();
        Assert.Contains("SignatureDoesNotMatch", everything, StringComparison.Ordinal);
        foreach (var (name, secret) in new[]
                 {
                     ("dataset secretAccessKey", DatasetSecret), ("dataset endpoint from secretOptions", DatasetEndpointSecret),
                     ("pod-local secret", PodSecret), ("upstream secret", UpstreamSecret),
                 })
        {
            var at = everything.IndexOf(secret, StringComparison.Ordinal);
            Assert.True(at < 0, $"the {name} leaked: …{(at < 0 ? "" : everything.Substring(Math.Max(0, at - 200), Math.Min(everything.Length - Math.Max(0, at - 200), 260)))}…");
        }
    }

    private DatasetConfig Dataset(string name, bool endpointFromSecret = false) => new()
    {
        Name = name,
        Source = "s3://remote-bucket/",
        Options = endpointFromSecret
            ? new Dictionary<string, string> { ["region"] = "us-east-1", ["pathStyle"] = "true" }
            : new Dictionary<string, string> { ["endpoint"] = _remoteEndpoint.ToString().TrimEnd('/'), ["region"] = "us-east-1", ["pathStyle"] = "true" },
        SecretOptions = endpointFromSecret
            ? new Dictionary<string, string> { ["accessKeyId"] = "DS_KEY", ["secretAccessKey"] = "DS_SECRET", ["endpoint"] = "DS_ENDPOINT" }
            : new Dictionary<string, string> { ["accessKeyId"] = "DS_KEY", ["secretAccessKey"] = "DS_SECRET" },
    };

    private static bool HasReloadError(string status)
    {
        using var json = System.Text.Json.JsonDocument.Parse(status);
        return json.RootElement.TryGetProperty("configReload", out var reload) && reload.TryGetProperty("lastError", out _);
    }

    private static AmazonS3Client Client(SidecarProcess sidecar, string accessKey, string secret) => new(
        new BasicAWSCredentials(accessKey, secret),
        new AmazonS3Config { ServiceURL = sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
}
