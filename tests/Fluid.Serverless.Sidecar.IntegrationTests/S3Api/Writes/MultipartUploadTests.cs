using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// Client multipart uploads through the sidecar: parts streamed into moto's parts (a bad part never becomes usable),
/// parts without a length, and multipart on a local:// dataset (staged in the sidecar, renamed into place).
/// </summary>
[Collection(WriteThroughCollection.Name)]
public sealed class MultipartUploadTests(WriteThroughEnvironment environment)
{
    private const int FiveMiB = 5 * 1024 * 1024;

    [Fact]
    public async Task UploadPart_WrongTrailerAtEndOfStreamedPart_BadDigestAndRemoteHasNoPart()
    {
        using var s3 = environment.SidecarClient();
        var bytes = WriteThroughEnvironment.RandomBytes(FiveMiB + 17);
        var upload = await s3.InitiateMultipartUploadAsync(WriteThroughEnvironment.Writable, "mp/bad-part.bin");

        using var response = await PutAwsChunkedPartAsync("mp/bad-part.bin", upload.UploadId, 1, bytes, "x-amz-checksum-crc32:AAAAAA==");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>BadDigest</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var remote = environment.Moto.CreateClient();
        var parts = await remote.ListPartsAsync(new ListPartsRequest { BucketName = WriteThroughEnvironment.RemoteBucket, Key = "rw/mp/bad-part.bin", UploadId = upload.UploadId });
        Assert.Empty(parts.Parts ?? []);

        // A client that completes anyway with the part's own MD5 gets the remote's InvalidPart: there is no part 1.
        var complete = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.Writable,
            Key = "mp/bad-part.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, "\"" + Convert.ToHexStringLower(MD5.HashData(bytes)) + "\"")],
        }));
        Assert.Equal("InvalidPart", complete.ErrorCode);
        Assert.Null(await environment.RemoteSha256Async("rw/mp/bad-part.bin"));

        // The same upload still takes the good bytes.
        using var good = await PutAwsChunkedPartAsync("mp/bad-part.bin", upload.UploadId, 1, bytes, "x-amz-checksum-crc32:" + Crc32Base64(bytes));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.Writable,
            Key = "mp/bad-part.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, good.Headers.ETag!.Tag)],
        });
        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/mp/bad-part.bin"));
    }

    [Fact]
    public async Task UploadPart_ChunkedTransferWithoutLength_SpooledThenStoredAndSpoolEmptied()
    {
        using var s3 = environment.SidecarClient();
        var first = WriteThroughEnvironment.RandomBytes(FiveMiB + 1);
        var second = WriteThroughEnvironment.RandomBytes(4099);
        var upload = await s3.InitiateMultipartUploadAsync(WriteThroughEnvironment.Writable, "mp/chunked.bin");

        var etags = new List<PartETag>();
        foreach (var (number, part) in new[] { (1, first), (2, second) })
        {
            using var http = new HttpClient { BaseAddress = environment.Sidecar.S3Endpoint }.WithAnyKeySignature();
            using var content = new StreamContent(new NoLengthStream(part));
            content.Headers.Add("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
            using var response = await http.PutAsync(PartUri("mp/chunked.bin", upload.UploadId, number), content);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            Assert.Equal(number == 1 ? first.Length : second.Length, part.Length);
            etags.Add(new PartETag(number, response.Headers.ETag!.Tag));
        }

        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = WriteThroughEnvironment.Writable, Key = "mp/chunked.bin", UploadId = upload.UploadId, PartETags = etags });

        Assert.Equal(WriteThroughEnvironment.Sha256([.. first, .. second]), await environment.RemoteSha256Async("rw/mp/chunked.bin"));
        var spool = Path.Combine(environment.Sidecar.CacheDirectory, "uploads", "spool");
        Assert.Empty(Directory.Exists(spool) ? Directory.GetFiles(spool) : []);
    }

    [Fact]
    public async Task TransferUtility_LocalDataset24MiB_FileExactAndNoStagingLeft()
    {
        var bytes = WriteThroughEnvironment.RandomBytes((24 * 1024 * 1024) + 5);
        using var s3 = environment.SidecarClient();
        using var transfer = new TransferUtility(s3, new TransferUtilityConfig { MinSizeBeforePartUpload = 8 * 1024 * 1024 });

        await transfer.UploadAsync(new TransferUtilityUploadRequest
        {
            InputStream = new MemoryStream(bytes),
            BucketName = WriteThroughEnvironment.LocalWritable,
            Key = "sdk/transfer.bin",
            PartSize = FiveMiB,
        });

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), WriteThroughEnvironment.Sha256(await File.ReadAllBytesAsync(Path.Combine(environment.LocalRoot, "sdk", "transfer.bin"))));
        Assert.Empty(StagedUploads());
        var listing = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = WriteThroughEnvironment.LocalWritable, Prefix = "sdk/" });
        Assert.Equal(["sdk/transfer.bin"], listing.S3Objects.Select(o => o.Key));
    }

    [Fact]
    public async Task AwsCliV2_CpToLocalDataset_FileExact()
    {
        var bytes = WriteThroughEnvironment.RandomBytes((20 * 1024 * 1024) + 3);
        var path = Path.Combine(environment.Root, "cli-local-up.bin");
        await File.WriteAllBytesAsync(path, bytes);

        await CommandRunner.RunCheckedAsync(
            "/usr/bin/aws",
            ["--endpoint-url", environment.Sidecar.S3Endpoint.ToString(), "s3", "cp", "--no-progress", path, $"s3://{WriteThroughEnvironment.LocalWritable}/cli/up.bin"],
            environment.ClientEnvironment());

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), WriteThroughEnvironment.Sha256(await File.ReadAllBytesAsync(Path.Combine(environment.LocalRoot, "cli", "up.bin"))));
    }

    [Fact]
    public async Task ListPartsAndAbort_LocalDataset_PartsListedThenUploadGoneAndNoFile()
    {
        using var s3 = environment.SidecarClient();
        var first = WriteThroughEnvironment.RandomBytes(FiveMiB);
        var second = WriteThroughEnvironment.RandomBytes(1000);
        var upload = await s3.InitiateMultipartUploadAsync(WriteThroughEnvironment.LocalWritable, "mp/aborted.bin");
        await s3.UploadPartAsync(new UploadPartRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/aborted.bin", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(first) });
        await s3.UploadPartAsync(new UploadPartRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/aborted.bin", UploadId = upload.UploadId, PartNumber = 2, InputStream = new MemoryStream(second) });

        var parts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/aborted.bin", UploadId = upload.UploadId });
        await s3.AbortMultipartUploadAsync(WriteThroughEnvironment.LocalWritable, "mp/aborted.bin", upload.UploadId);
        var afterAbort = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.ListPartsAsync(new ListPartsRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/aborted.bin", UploadId = upload.UploadId }));

        Assert.Equal([1, 2], parts.Parts.Select(p => p.PartNumber ?? 0));
        Assert.Equal([(long)first.Length, second.Length], parts.Parts.Select(p => p.Size ?? 0));
        Assert.Equal("\"" + Convert.ToHexStringLower(MD5.HashData(first)) + "\"", parts.Parts[0].ETag);
        Assert.Equal("NoSuchUpload", afterAbort.ErrorCode);
        Assert.False(File.Exists(Path.Combine(environment.LocalRoot, "mp", "aborted.bin")));
    }

    [Fact]
    public async Task Metrics_MultipartAndDeleteObjects_CountedUnderTheirOwnOperation()
    {
        using var s3 = environment.SidecarClient();
        var putObjectsBefore = await RequestCountAsync("PutObject", 200);
        var postBucketBefore = await RequestCountAsync("PostBucket", 200);
        var bucket = WriteThroughEnvironment.LocalWritable;

        var upload = await s3.InitiateMultipartUploadAsync(bucket, "mp/labelled.bin");
        var part = await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "mp/labelled.bin", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(WriteThroughEnvironment.RandomBytes(1000)) });
        await s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "mp/labelled.bin", UploadId = upload.UploadId });
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = "mp/labelled.bin", UploadId = upload.UploadId, PartETags = [new PartETag(1, part.ETag)] });
        var aborted = await s3.InitiateMultipartUploadAsync(bucket, "mp/labelled-aborted.bin");
        await s3.AbortMultipartUploadAsync(bucket, "mp/labelled-aborted.bin", aborted.UploadId);
        await s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = [new KeyVersion { Key = "mp/labelled.bin" }] });

        Assert.True(await RequestCountAsync("CreateMultipartUpload", 200) >= 2);
        Assert.True(await RequestCountAsync("UploadPart", 200) >= 1);
        Assert.True(await RequestCountAsync("ListParts", 200) >= 1);
        Assert.True(await RequestCountAsync("CompleteMultipartUpload", 200) >= 1);
        Assert.True(await RequestCountAsync("AbortMultipartUpload", 204) >= 1);
        Assert.True(await RequestCountAsync("DeleteObjects", 200) >= 1);
        Assert.Equal(putObjectsBefore, await RequestCountAsync("PutObject", 200));
        Assert.Equal(postBucketBefore, await RequestCountAsync("PostBucket", 200));
        Assert.False(File.Exists(Path.Combine(environment.LocalRoot, "mp", "labelled.bin")));
    }

    /// <summary>fluid_sidecar_s3_requests_total{operation,status} as /metrics shows it (0 when the series does not exist).</summary>
    private async Task<long> RequestCountAsync(string operation, int status)
    {
        using var admin = new HttpClient { BaseAddress = environment.Sidecar.AdminEndpoint };
        var text = await admin.GetStringAsync("/metrics");
        var prefix = $"fluid_sidecar_s3_requests_total{{operation=\"{operation}\",status=\"{status}\"}} ";
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Complete_LocalDatasetWrongETagOrSmallPart_InvalidPartEntityTooSmallAndNoFile()
    {
        using var s3 = environment.SidecarClient();
        var small = WriteThroughEnvironment.RandomBytes(1000);
        var upload = await s3.InitiateMultipartUploadAsync(WriteThroughEnvironment.LocalWritable, "mp/refused.bin");
        var one = await s3.UploadPartAsync(new UploadPartRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/refused.bin", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(small) });
        var two = await s3.UploadPartAsync(new UploadPartRequest { BucketName = WriteThroughEnvironment.LocalWritable, Key = "mp/refused.bin", UploadId = upload.UploadId, PartNumber = 2, InputStream = new MemoryStream(small) });

        var wrongEtag = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.LocalWritable,
            Key = "mp/refused.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, "\"00000000000000000000000000000000\"")],
        }));
        var pathLikeEtag = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.LocalWritable,
            Key = "mp/refused.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, "\"../../../upload\"")],
        }));
        var tooSmall = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.LocalWritable,
            Key = "mp/refused.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, one.ETag), new PartETag(2, two.ETag)],
        }));

        Assert.Equal("InvalidPart", wrongEtag.ErrorCode);
        Assert.Equal("InvalidPart", pathLikeEtag.ErrorCode);
        Assert.Equal("EntityTooSmall", tooSmall.ErrorCode);
        Assert.False(File.Exists(Path.Combine(environment.LocalRoot, "mp", "refused.bin")));
        await s3.AbortMultipartUploadAsync(WriteThroughEnvironment.LocalWritable, "mp/refused.bin", upload.UploadId);
    }

    private IEnumerable<string> StagedUploads()
    {
        var multipart = Path.Combine(environment.Sidecar.CacheDirectory, "uploads", "multipart");
        return Directory.Exists(multipart) ? Directory.EnumerateFileSystemEntries(multipart) : [];
    }

    private static Uri PartUri(string key, string uploadId, int partNumber) =>
        new($"/{WriteThroughEnvironment.Writable}/{key}?partNumber={partNumber}&uploadId={Uri.EscapeDataString(uploadId)}", UriKind.Relative);

    /// <summary>One UploadPart with an unsigned aws-chunked body (1 MiB chunks) and the given trailer line.</summary>
    private async Task<HttpResponseMessage> PutAwsChunkedPartAsync(string key, string uploadId, int partNumber, byte[] bytes, string trailer)
    {
        var body = new MemoryStream();
        for (var offset = 0; offset < bytes.Length; offset += 1 << 20)
        {
            var length = Math.Min(1 << 20, bytes.Length - offset);
            body.Write(Encoding.ASCII.GetBytes(length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
            body.Write(bytes, offset, length);
            body.Write("\r\n"u8);
        }

        body.Write(Encoding.ASCII.GetBytes("0\r\n" + trailer + "\r\n\r\n"));
        using var http = new HttpClient { BaseAddress = environment.Sidecar.S3Endpoint }.WithAnyKeySignature();
        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.Add("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
        content.Headers.Add("x-amz-trailer", "x-amz-checksum-crc32");
        content.Headers.Add("x-amz-decoded-content-length", bytes.Length.ToString(CultureInfo.InvariantCulture));
        content.Headers.ContentEncoding.Add("aws-chunked");
        return await http.PutAsync(PartUri(key, uploadId, partNumber), content);
    }

    private static string Crc32Base64(byte[] bytes)
    {
        var crc = System.IO.Hashing.Crc32.HashToUInt32(bytes);
        var bigEndian = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bigEndian, crc);
        return Convert.ToBase64String(bigEndian);
    }

    /// <summary>A body whose length HttpClient cannot know, so it is sent with Transfer-Encoding: chunked.</summary>
    private sealed class NoLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
