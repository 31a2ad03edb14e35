using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Passthrough;

/// <summary>A sidecar process with moto as its upstream: "other-bucket" is not a dataset, so it is forwarded and re-signed.</summary>
public sealed class PassthroughEnvironment : IAsyncLifetime
{
    public const string OtherBucket = "other-bucket";

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Sidecar { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Moto = await MotoProcess.StartAsync();
        using (var s3 = Moto.CreateClient())
        {
            await s3.PutBucketAsync(OtherBucket);
            await s3.PutBucketAsync("dataset-remote");
        }

        var environment = new Dictionary<string, string>(Moto.ClientEnvironment)
        {
            ["FLUID_TEST_UPSTREAM_KEY"] = MotoProcess.AccessKey,
            ["FLUID_TEST_UPSTREAM_SECRET"] = MotoProcess.SecretKey,
        };
        Sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets = [TestDatasets.S3("a-dataset", "dataset-remote", Moto.Endpoint)],
                Upstream = new UpstreamConfig
                {
                    Endpoint = Moto.Endpoint.ToString(),
                    Region = MotoProcess.Region,
                    AccessKeyIdEnv = "FLUID_TEST_UPSTREAM_KEY",
                    SecretAccessKeyEnv = "FLUID_TEST_UPSTREAM_SECRET",
                },
            },
            environment);
    }

    public async Task DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Moto.DisposeAsync();
    }

    /// <summary>The app's client: pod-local credentials the upstream has never heard of, SDK default checksums.</summary>
    public AmazonS3Client AppClient() => new(
        new BasicAWSCredentials("app-only-key", "app-only-secret"),
        new AmazonS3Config { ServiceURL = Sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
}

public sealed class UpstreamForwarderTests(PassthroughEnvironment environment) : IClassFixture<PassthroughEnvironment>
{
    [Fact]
    public async Task PutGetList_NonDatasetBucket_LandAtUpstreamExactly()
    {
        var bytes = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(bytes);
        using var app = environment.AppClient();

        await app.PutObjectAsync(new PutObjectRequest { BucketName = PassthroughEnvironment.OtherBucket, Key = "via/sidecar.bin", InputStream = new MemoryStream(bytes) });
        using var got = await app.GetObjectAsync(PassthroughEnvironment.OtherBucket, "via/sidecar.bin");
        var body = new MemoryStream();
        await got.ResponseStream.CopyToAsync(body);
        var listed = await app.ListObjectsV2Async(new ListObjectsV2Request { BucketName = PassthroughEnvironment.OtherBucket, Prefix = "via/" });

        using var moto = environment.Moto.CreateClient();
        using var direct = await moto.GetObjectAsync(PassthroughEnvironment.OtherBucket, "via/sidecar.bin");
        var atMoto = new MemoryStream();
        await direct.ResponseStream.CopyToAsync(atMoto);
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(atMoto.ToArray()));
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(body.ToArray()));
        Assert.Equal(["via/sidecar.bin"], listed.S3Objects.Select(o => o.Key));
    }

    [Fact]
    public async Task GetMissingKey_NonDatasetBucket_UpstreamNoSuchKeyUnchanged()
    {
        using var app = environment.AppClient();

        var e = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => app.GetObjectAsync(PassthroughEnvironment.OtherBucket, "missing.txt"));

        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Equal("NoSuchKey", e.ErrorCode);
    }
}
