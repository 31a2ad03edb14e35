using System.Globalization;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Auth;

/// <summary>A sidecar process with pod-local credentials (so SigV4 is enforced) over a writable moto dataset.</summary>
public sealed class SignedSidecarEnvironment : IAsyncLifetime
{
    public const string AccessKey = "pod-local-key";
    public const string Secret = "pod-local-secret-0123456789";
    public const string Bucket = "signed-data";
    public const string RemoteBucket = "signed-remote";

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Sidecar { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Moto = await MotoProcess.StartAsync();
        using (var s3 = Moto.CreateClient())
        {
            await s3.PutBucketAsync(RemoteBucket);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = RemoteBucket, Key = "hello.txt", ContentBody = "hello signed world" });
        }

        var environment = new Dictionary<string, string>(Moto.ClientEnvironment) { ["FLUID_TEST_POD_SECRET"] = Secret };
        Sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets = [TestDatasets.S3(Bucket, RemoteBucket, Moto.Endpoint) with { ReadOnly = false }],
                Credentials = new PodCredentialsConfig { AccessKeyId = AccessKey, SecretAccessKeyEnv = "FLUID_TEST_POD_SECRET" },
            },
            environment);
    }

    public async Task DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Moto.DisposeAsync();
    }

    public AmazonS3Client Client(string accessKey = AccessKey, string secret = Secret) => new(
        new BasicAWSCredentials(accessKey, secret),
        new AmazonS3Config { ServiceURL = Sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
}

public sealed class SigV4VerifierTests(SignedSidecarEnvironment environment) : IClassFixture<SignedSidecarEnvironment>
{
    [Fact]
    public async Task SignedRequests_RightCredentials_GetAndSignedStreamingPutSucceed()
    {
        using var s3 = environment.Client();

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = SignedSidecarEnvironment.Bucket, Key = "dir/new file+1.txt", ContentBody = "signed upload" });
        using var get = await s3.GetObjectAsync(SignedSidecarEnvironment.Bucket, "dir/new file+1.txt");
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = SignedSidecarEnvironment.Bucket, Prefix = "dir/" });

        Assert.Equal("signed upload", await new StreamReader(get.ResponseStream).ReadToEndAsync());
        Assert.Single(listed.S3Objects);
    }

    [Fact]
    public async Task SignedRequest_WrongSecret_SignatureDoesNotMatch()
    {
        using var s3 = environment.Client(secret: "not-the-secret");

        var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectAsync(SignedSidecarEnvironment.Bucket, "hello.txt"));

        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.Equal("SignatureDoesNotMatch", e.ErrorCode);
    }

    [Fact]
    public async Task SignedRequest_UnknownAccessKey_InvalidAccessKeyId()
    {
        using var s3 = environment.Client(accessKey: "someone-else");

        var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectAsync(SignedSidecarEnvironment.Bucket, "hello.txt"));

        Assert.Equal("InvalidAccessKeyId", e.ErrorCode);
    }

    [Fact]
    public async Task UnsignedRequest_AccessDenied()
    {
        using var http = new HttpClient();

        using var response = await http.GetAsync(new Uri(environment.Sidecar.S3Endpoint, $"/{SignedSidecarEnvironment.Bucket}/hello.txt"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_DatedTwoHoursAgo_RequestTimeTooSkewed()
    {
        using var http = new HttpClient();
        var old = DateTime.UtcNow.AddHours(-2);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(environment.Sidecar.S3Endpoint, $"/{SignedSidecarEnvironment.Bucket}/hello.txt"));
        request.Headers.TryAddWithoutValidation("x-amz-date", old.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={SignedSidecarEnvironment.AccessKey}/{old:yyyyMMdd}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={new string('0', 64)}");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("<Code>RequestTimeTooSkewed</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PresignedGet_ValidTamperedAndExpired_200Then403s()
    {
        using var s3 = environment.Client();
        using var http = new HttpClient();
        var valid = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = SignedSidecarEnvironment.Bucket,
            Key = "hello.txt",
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow.AddMinutes(10),
            Protocol = Protocol.HTTP,
        });
        var shortLived = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = SignedSidecarEnvironment.Bucket,
            Key = "hello.txt",
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow.AddSeconds(2),
            Protocol = Protocol.HTTP,
        });

        using (var ok = await http.GetAsync(new Uri(valid)))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("hello signed world", await ok.Content.ReadAsStringAsync());
        }

        var tampered = valid.Replace("X-Amz-Signature=", "X-Amz-Signature=0", StringComparison.Ordinal)[..^1];
        using (var bad = await http.GetAsync(new Uri(tampered)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, bad.StatusCode);
            Assert.Contains("<Code>SignatureDoesNotMatch</Code>", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Wait past the 2-second lifetime (a correctness wait on the expiry itself, not a performance threshold).
        await Task.Delay(TimeSpan.FromSeconds(4));
        using var expired = await http.GetAsync(new Uri(shortLived));
        Assert.Equal(HttpStatusCode.Forbidden, expired.StatusCode);
        Assert.Contains("expired", await expired.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
