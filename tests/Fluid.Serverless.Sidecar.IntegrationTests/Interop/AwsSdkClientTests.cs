using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>AWSSDK.S3 4.x with its default settings (response checksum validation on) against the sidecar process.</summary>
[Collection(InteropCollection.Name)]
public sealed class AwsSdkClientTests(InteropEnvironment environment) : IDisposable
{
    private readonly AmazonS3Client _s3 = new(
        new BasicAWSCredentials("sidecar-client", "sidecar-client-secret"),
        new AmazonS3Config { ServiceURL = environment.Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    public void Dispose() => _s3.Dispose();

    [Theory]
    [InlineData(InteropEnvironment.BigKey)]
    [InlineData(InteropEnvironment.SpaceKey)]
    [InlineData(InteropEnvironment.UnicodeKey)]
    [InlineData(InteropEnvironment.PlusKey)]
    [InlineData(InteropEnvironment.DeepKey)]
    public async Task GetObject_AwkwardKeys_BytesEqualSource(string key)
    {
        using var response = await _s3.GetObjectAsync(InteropEnvironment.Bucket, key);

        Assert.Equal(HttpStatusCode.OK, response.HttpStatusCode);
        Assert.Equal(new FileInfo(Path.Combine(environment.SourceDirectory, key)).Length, response.ContentLength);
        Assert.Equal(environment.Hashes[key], await Sha256Hex.OfStreamAsync(response.ResponseStream));
    }

    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(1_000L, 4_195_303L)] // crosses the first 4 MiB block boundary
    [InlineData(8_388_000L, 8_400_952L)] // ends on the last byte of the object (size 8,400,953)
    public async Task GetObject_Range_ReturnsExactlyThoseBytes(long first, long last)
    {
        var source = await File.ReadAllBytesAsync(Path.Combine(environment.SourceDirectory, InteropEnvironment.BigKey));

        using var response = await _s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = InteropEnvironment.Bucket,
            Key = InteropEnvironment.BigKey,
            ByteRange = new ByteRange(first, last),
        });

        Assert.Equal(HttpStatusCode.PartialContent, response.HttpStatusCode);
        Assert.Equal($"bytes {first}-{last}/{source.Length}", response.ContentRange);
        Assert.Equal(Sha256Hex.Of(source.AsSpan((int)first, (int)(last - first + 1))), await Sha256Hex.OfStreamAsync(response.ResponseStream));
    }

    [Fact]
    public async Task TransferUtilityDownload_MultiMiBObject_FileEqualsSource()
    {
        var destination = Path.Combine(environment.NewDownloadDirectory(), "model.bin");
        using var transfer = new TransferUtility(_s3);

        await transfer.DownloadAsync(new TransferUtilityDownloadRequest
        {
            BucketName = InteropEnvironment.Bucket,
            Key = InteropEnvironment.BigKey,
            FilePath = destination,
        });

        Assert.Equal(environment.Hashes[InteropEnvironment.BigKey], Sha256Hex.OfFile(destination));
    }

    [Fact]
    public async Task TransferUtilityDownloadDirectory_SyncPrefix_EveryFileEqualsSource()
    {
        var destination = environment.NewDownloadDirectory();
        using var transfer = new TransferUtility(_s3);

        await transfer.DownloadDirectoryAsync(new TransferUtilityDownloadDirectoryRequest
        {
            BucketName = InteropEnvironment.Bucket,
            S3Directory = InteropEnvironment.SyncPrefix,
            LocalDirectory = destination,
        });

        environment.AssertSameFiles(destination, InteropEnvironment.SyncPrefix, environment.KeysUnder(InteropEnvironment.SyncPrefix).Count);
    }

    [Fact]
    public async Task ListObjectsV2_WholeDataset_ListsEveryKeyWithItsSize()
    {
        var listed = new List<S3Object>();
        var request = new ListObjectsV2Request { BucketName = InteropEnvironment.Bucket, MaxKeys = 3 };
        ListObjectsV2Response page;
        do
        {
            page = await _s3.ListObjectsV2Async(request);
            listed.AddRange(page.S3Objects ?? []);
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);

        Assert.Equal(environment.KeysUnder(""), listed.Select(o => o.Key).ToList());
        foreach (var entry in listed)
        {
            Assert.Equal(new FileInfo(Path.Combine(environment.SourceDirectory, entry.Key)).Length, entry.Size);
        }
    }

    [Fact]
    public async Task GetObject_MissingKey_NoSuchKey()
    {
        var error = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => _s3.GetObjectAsync(InteropEnvironment.Bucket, "big/not-there.bin"));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Equal("NoSuchKey", error.ErrorCode);
        Assert.False(string.IsNullOrEmpty(error.RequestId));
    }
}
