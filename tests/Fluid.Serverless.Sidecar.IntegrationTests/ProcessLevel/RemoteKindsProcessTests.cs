using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>What a client of the sidecar process checks, whatever the remote: every object byte-exact, the listing complete.</summary>
internal static class ServedDatasetAssertions
{
    public static async Task AssertServesAsync(SidecarProcess sidecar, string bucket, IReadOnlyDictionary<string, string> hashes)
    {
        using var s3 = new AmazonS3Client(
            new BasicAWSCredentials("sidecar-client", "sidecar-client-secret"),
            new AmazonS3Config { ServiceURL = sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        foreach (var (key, expected) in hashes)
        {
            using var response = await s3.GetObjectAsync(bucket, key);
            Assert.True(expected == await Sha256Hex.OfStreamAsync(response.ResponseStream), $"bytes of '{key}' differ from the source\n{sidecar.Describe()}");
        }

        var listing = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
        Assert.Equal(hashes.Keys.Order(StringComparer.Ordinal), (listing.S3Objects ?? []).Select(o => o.Key));
    }
}

/// <summary>A dataset on s3rver (npm 3.7.1), a second S3 implementation with its own quirks, served by the sidecar process.</summary>
[Collection(S3rverCollection.Name)]
public sealed class S3rverDatasetProcessTests(S3rverFixture s3rver) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fluid-s3rver-dataset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Serve_S3rverDataset_EveryObjectByteExactAndListed()
    {
        var bucket = await s3rver.CreateBucketAsync("sidecar");
        var hashes = TestDatasets.WriteFiles(_root, [("model/weights.bin", (5 * 1024 * 1024) + 3), ("model/config file.json", 1_234), ("a+b/ü.txt", 77)]);
        foreach (var key in hashes.Keys)
        {
            await s3rver.PutAsync(bucket, key, await File.ReadAllBytesAsync(Path.Combine(_root, key)));
        }

        await using var sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig { Datasets = [TestDatasets.S3("from-s3rver", bucket, new Uri(s3rver.Endpoint))] },
            new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = s3rver.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = s3rver.SecretKey, ["AWS_EC2_METADATA_DISABLED"] = "true" });

        await ServedDatasetAssertions.AssertServesAsync(sidecar, "from-s3rver", hashes);
    }
}

/// <summary>A dataset on an nginx HTTP origin (files named by a listing file) served by the sidecar process as a bucket.</summary>
[Collection(NginxCollection.Name)]
public sealed class NginxDatasetProcessTests(NginxFixture nginx)
{
    [Fact]
    public async Task Serve_HttpDatasetWithListingFile_EveryObjectByteExactAndListed()
    {
        var prefix = $"ds-{Guid.NewGuid():N}";
        var hashes = TestDatasets.WriteFiles(Path.Combine(nginx.Root, prefix), [("images/0001.jpg", 300_000), ("shards/part 1.bin", (4 * 1024 * 1024) + 5)]);
        await File.WriteAllLinesAsync(Path.Combine(nginx.Root, prefix, "index.txt"), hashes.Keys);

        await using var sidecar = await SidecarProcess.StartAsync(new SidecarConfig
        {
            Datasets =
            [
                new DatasetConfig
                {
                    Name = "from-nginx",
                    Source = $"{nginx.BaseUrl}{prefix}/",
                    Options = new Dictionary<string, string> { ["listing"] = "index.txt" },
                },
            ],
        });

        await ServedDatasetAssertions.AssertServesAsync(sidecar, "from-nginx", hashes);
    }
}
