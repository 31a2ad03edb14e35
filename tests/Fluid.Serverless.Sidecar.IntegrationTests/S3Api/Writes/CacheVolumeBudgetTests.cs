using System.Globalization;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// The cache volume holds the block cache and upload staging; the kubelet evicts the pod once the volume's usage
/// passes its emptyDir sizeLimit, which the injector sets to <see cref="SidecarDefaults.CacheVolumeSizeBytes"/>.
/// A real sidecar process: the block cache is filled to its quota through GETs, then AWSSDK.S3 stages multipart
/// parts on a local:// dataset without completing (a slow client). What `du` measures (as the kubelet does) must stay
/// under the limit; parts that do not fit get SlowDown (or EntityTooLarge when larger than all of staging), and
/// the sidecar keeps serving.
/// </summary>
public sealed class CacheVolumeBudgetTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const long QuotaBytes = 32 * MiB;
    private const long StagingBytes = 24 * MiB;
    private readonly string _root = Directory.CreateTempSubdirectory("fluid-cache-volume-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task FullCacheThenStagedUploads_VolumeStaysUnderSizeLimit_PartsBeyondStagingGetSlowDown()
    {
        var source = Path.Combine(_root, "source");
        var output = Directory.CreateDirectory(Path.Combine(_root, "output")).FullName;
        var files = TestDatasets.WriteFiles(source, Enumerable.Range(0, 6).Select(i => ($"f{i}.bin", 8 * MiB)));
        var config = new SidecarConfig
        {
            Cache = new CacheConfig { QuotaBytes = QuotaBytes, StagingBytes = StagingBytes, BlockSizeBytes = (int)MiB, MinFreeBytes = 0 },
            Datasets =
            [
                new DatasetConfig { Name = "source", Source = "local://" + source },
                new DatasetConfig { Name = "output", Source = "local://" + output, ReadOnly = false },
            ],
        };
        await using var sidecar = await SidecarProcess.StartAsync(config);
        var sizeLimit = SidecarDefaults.CacheVolumeSizeBytes(QuotaBytes, StagingBytes);
        using var s3 = new AmazonS3Client(
            new BasicAWSCredentials("app", "app-secret"),
            new AmazonS3Config { ServiceURL = sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

        // 1. A full cache: 48 MiB read through a 32 MiB quota (plain GETs: a local file's ETag is not its MD5, which
        // AWSSDK would check).
        using (var http = new HttpClient { BaseAddress = sidecar.S3Endpoint })
        {
            foreach (var key in files.Keys)
            {
                Assert.Equal(files[key], Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await http.GetByteArrayAsync(new Uri($"/source/{key}", UriKind.Relative)))), ignoreCase: true);
            }
        }

        Assert.True(await VolumeUsageAsync(sidecar) >= QuotaBytes / 2, "the block cache was not filled");

        // 2. A client stages 8 MiB parts and never completes: staging takes three (24 MiB), the fourth is refused.
        var upload = await s3.InitiateMultipartUploadAsync("output", "big.bin");
        var part = WriteThroughEnvironment.RandomBytes((int)(8 * MiB));
        var accepted = new List<PartETag>();
        AmazonS3Exception? refused = null;
        for (var number = 1; number <= 12 && refused is null; number++)
        {
            try
            {
                var response = await s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = "output",
                    Key = "big.bin",
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    InputStream = new MemoryStream(part),
                });
                accepted.Add(new PartETag(number, response.ETag));
            }
            catch (AmazonS3Exception e)
            {
                refused = e;
            }

            var usage = await VolumeUsageAsync(sidecar);
            Assert.True(usage <= sizeLimit, $"the cache volume holds {usage} bytes, past its sizeLimit of {sizeLimit}: the kubelet would evict the pod");
        }

        Assert.NotNull(refused);
        Assert.Equal(("SlowDown", HttpStatusCode.ServiceUnavailable), (refused.ErrorCode, refused.StatusCode));
        Assert.Equal(3, accepted.Count);

        // 3. A part larger than all of staging can never fit: EntityTooLarge.
        var other = await s3.InitiateMultipartUploadAsync("output", "other.bin");
        var tooLarge = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = "output",
            Key = "other.bin",
            UploadId = other.UploadId,
            PartNumber = 1,
            InputStream = new MemoryStream(new byte[StagingBytes + 1]),
        }));
        Assert.Equal("EntityTooLarge", tooLarge.ErrorCode);

        // 4. The sidecar still serves, and completing the upload gives staging back.
        Assert.False(sidecar.HasExited, sidecar.Describe());
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = "output", Key = "big.bin", UploadId = upload.UploadId, PartETags = accepted });
        Assert.Equal(3 * part.Length, new FileInfo(Path.Combine(output, "big.bin")).Length);
        var again = await s3.InitiateMultipartUploadAsync("output", "again.bin");
        var first = await s3.UploadPartAsync(new UploadPartRequest { BucketName = "output", Key = "again.bin", UploadId = again.UploadId, PartNumber = 1, InputStream = new MemoryStream(part) });
        Assert.Equal(HttpStatusCode.OK, first.HttpStatusCode);
    }

    /// <summary>The cache volume's usage as the kubelet measures an emptyDir (du of the directory, in bytes).</summary>
    private static async Task<long> VolumeUsageAsync(SidecarProcess sidecar)
    {
        var du = await CommandRunner.RunCheckedAsync("du", ["-s", "-B1", sidecar.CacheDirectory]);
        return long.Parse(du.StandardOutput.Split('\t')[0], CultureInfo.InvariantCulture);
    }
}
