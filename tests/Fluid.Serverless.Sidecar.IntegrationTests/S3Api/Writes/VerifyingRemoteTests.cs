using System.Net;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// Moto checks neither signatures nor payload hashes, so the requests the sidecar sends for streamed parts (signed
/// with the client's verified x-amz-content-sha256 instead of aws-chunked, Content-MD5 passed on) are checked here
/// against a remote that does: a second sidecar with pod-local SigV4 credentials, writing through to moto.
/// Chain: client → sidecar "front" (writable dataset on the second sidecar) → sidecar "verifier" → moto.
/// </summary>
public sealed class VerifyingRemoteEnvironment : IAsyncLifetime
{
    public const string RemoteBucket = "verified-remote";
    private const string VerifierKey = "verifier-key";
    private const string VerifierSecret = "verifier-secret";
    private SidecarProcess _verifier = null!;

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Front { get; private set; } = null!;
    public string Root { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Root = Directory.CreateTempSubdirectory("fluid-verified-writes-").FullName;
        Moto = await MotoProcess.StartAsync();
        using (var s3 = Moto.CreateClient())
        {
            await s3.PutBucketAsync(RemoteBucket);
        }

        _verifier = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Credentials = new PodCredentialsConfig { AccessKeyId = VerifierKey, SecretAccessKeyEnv = "FLUID_TEST_VERIFIER_SECRET" },
                Datasets = [TestDatasets.S3("inner", RemoteBucket, Moto.Endpoint) with { ReadOnly = false }],
            },
            new Dictionary<string, string>(Moto.ClientEnvironment) { ["FLUID_TEST_VERIFIER_SECRET"] = VerifierSecret });
        var front = TestDatasets.S3("outer", "inner", _verifier.S3Endpoint) with { ReadOnly = false };
        front = front with
        {
            Options = new Dictionary<string, string>(front.Options) { ["accessKeyId"] = VerifierKey, ["secretAccessKey"] = VerifierSecret },
        };
        Front = await SidecarProcess.StartAsync(new SidecarConfig { Datasets = [front] });
    }

    public async Task DisposeAsync()
    {
        await Front.DisposeAsync();
        await _verifier.DisposeAsync();
        await Moto.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }

    public async Task<string?> MotoSha256Async(string key)
    {
        using var s3 = Moto.CreateClient();
        using var response = await s3.GetObjectAsync(RemoteBucket, key);
        var output = new MemoryStream();
        await response.ResponseStream.CopyToAsync(output);
        return WriteThroughEnvironment.Sha256(output.ToArray());
    }
}

public sealed class VerifyingRemoteTests(VerifyingRemoteEnvironment environment) : IClassFixture<VerifyingRemoteEnvironment>
{
    [Fact]
    public async Task AwsCliV2Cp_PartsWithPayloadHashAndMd5_AcceptedByVerifyingRemoteAndExact()
    {
        var bytes = WriteThroughEnvironment.RandomBytes((20 * 1024 * 1024) + 7);
        var path = Path.Combine(environment.Root, "up.bin");
        await File.WriteAllBytesAsync(path, bytes);
        var cliEnvironment = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "app",
            ["AWS_SECRET_ACCESS_KEY"] = "app-secret",
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["AWS_CONFIG_FILE"] = Path.Combine(environment.Root, "no-config"),
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(environment.Root, "no-credentials"),
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["AWS_ENDPOINT_URL"] = null,
            ["AWS_ENDPOINT_URL_S3"] = null,
            ["AWS_PROFILE"] = null,
        };

        await CommandRunner.RunCheckedAsync(
            "/usr/bin/aws",
            ["--endpoint-url", environment.Front.S3Endpoint.ToString(), "s3", "cp", "--no-progress", path, "s3://outer/cli/up.bin"],
            cliEnvironment);

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.MotoSha256Async("cli/up.bin"));
    }

    [Fact]
    public async Task UploadPart_WrongPayloadHash_MismatchAtFrontAndNoPartAtMoto()
    {
        using var s3 = new Amazon.S3.AmazonS3Client(
            new Amazon.Runtime.BasicAWSCredentials("app", "app-secret"),
            new Amazon.S3.AmazonS3Config { ServiceURL = environment.Front.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        var upload = await s3.InitiateMultipartUploadAsync("outer", "bad/part.bin");
        var bytes = WriteThroughEnvironment.RandomBytes(6 * 1024 * 1024);
        using var http = new HttpClient { BaseAddress = environment.Front.S3Endpoint }.WithAnyKeySignature();
        using var content = new ByteArrayContent(bytes);
        content.Headers.Add("x-amz-content-sha256", new string('a', 64));
        content.Headers.ContentLength = bytes.Length;

        using var response = await http.PutAsync(new Uri($"/outer/bad/part.bin?partNumber=1&uploadId={Uri.EscapeDataString(upload.UploadId)}", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>XAmzContentSHA256Mismatch</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var moto = environment.Moto.CreateClient();
        var uploads = await moto.ListMultipartUploadsAsync(VerifyingRemoteEnvironment.RemoteBucket);
        var parts = await moto.ListPartsAsync(new ListPartsRequest { BucketName = VerifyingRemoteEnvironment.RemoteBucket, Key = "bad/part.bin", UploadId = uploads.MultipartUploads.Single().UploadId });
        Assert.Empty(parts.Parts ?? []);
    }
}
