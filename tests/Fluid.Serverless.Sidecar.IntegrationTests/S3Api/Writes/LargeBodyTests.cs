using System.Globalization;
using System.Net;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// Bodies past Kestrel's 30,000,000-byte default and within S3's 5 GiB: a 100 MiB single PUT and 64 MiB parts, with
/// aws-cli v2, boto3 and AWSSDK.S3, each checked by SHA-256 at moto; above 5 GiB the answer is S3's EntityTooLarge.
/// </summary>
[Collection(WriteThroughCollection.Name)]
public sealed class LargeBodyTests(WriteThroughEnvironment environment)
{
    private const int SinglePutSize = 100 * 1024 * 1024;
    private const int PartSize = 64 * 1024 * 1024;
    private const string AwsCliV2 = "/usr/bin/aws";

    [Fact]
    public async Task AwsCliV2_PutObject100MiBAndCpWith64MiBParts_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(SinglePutSize);
        var path = Path.Combine(environment.Root, "large-cli-v2.bin");
        await File.WriteAllBytesAsync(path, bytes);
        var configFile = Path.Combine(environment.Root, "aws-config-64mib-parts");
        await File.WriteAllTextAsync(configFile, "[default]\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 64MB\n");
        var env = environment.ClientEnvironment();
        env["AWS_CONFIG_FILE"] = configFile;
        var endpoint = environment.Sidecar.S3Endpoint.ToString();

        await CommandRunner.RunCheckedAsync(
            AwsCliV2,
            ["--endpoint-url", endpoint, "s3api", "put-object", "--bucket", WriteThroughEnvironment.Writable, "--key", "large/cli-v2-put.bin", "--body", path],
            env);
        await CommandRunner.RunCheckedAsync(
            AwsCliV2,
            ["--endpoint-url", endpoint, "s3", "cp", "--no-progress", path, $"s3://{WriteThroughEnvironment.Writable}/large/cli-v2-64mib-parts.bin"],
            env);

        var expected = WriteThroughEnvironment.Sha256(bytes);
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/cli-v2-put.bin"));
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/cli-v2-64mib-parts.bin"));
    }

    [Fact]
    public async Task Boto3_PutObject100MiBAndUploadFileWith64MiBParts_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(SinglePutSize);
        var path = Path.Combine(environment.Root, "large-boto3.bin");
        await File.WriteAllBytesAsync(path, bytes);
        const string Script = """
            import sys, boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
            with open(sys.argv[3], "rb") as f:
                s3.put_object(Bucket=sys.argv[2], Key="large/boto3-put.bin", Body=f)
            s3.upload_file(sys.argv[3], sys.argv[2], "large/boto3-64mib-parts.bin",
                           Config=TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024))
            """;

        await CommandRunner.RunCheckedAsync(
            "python3",
            ["-c", Script, environment.Sidecar.S3Endpoint.ToString(), WriteThroughEnvironment.Writable, path],
            environment.ClientEnvironment());

        var expected = WriteThroughEnvironment.Sha256(bytes);
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/boto3-put.bin"));
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/boto3-64mib-parts.bin"));
    }

    [Fact]
    public async Task AwsSdk_PutObject100MiBAndUploadPart64MiB_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(SinglePutSize);
        using var s3 = environment.SidecarClient();

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "large/sdk-put.bin", InputStream = new MemoryStream(bytes) });

        var upload = await s3.InitiateMultipartUploadAsync(WriteThroughEnvironment.Writable, "large/sdk-64mib-parts.bin");
        var first = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = WriteThroughEnvironment.Writable,
            Key = "large/sdk-64mib-parts.bin",
            UploadId = upload.UploadId,
            PartNumber = 1,
            InputStream = new MemoryStream(bytes, 0, PartSize),
        });
        var last = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = WriteThroughEnvironment.Writable,
            Key = "large/sdk-64mib-parts.bin",
            UploadId = upload.UploadId,
            PartNumber = 2,
            InputStream = new MemoryStream(bytes, PartSize, bytes.Length - PartSize),
        });
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = WriteThroughEnvironment.Writable,
            Key = "large/sdk-64mib-parts.bin",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, first.ETag), new PartETag(2, last.ETag)],
        });

        var expected = WriteThroughEnvironment.Sha256(bytes);
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/sdk-put.bin"));
        Assert.Equal(expected, await environment.RemoteSha256Async("rw/large/sdk-64mib-parts.bin"));
    }

    [Fact]
    public async Task PutObject_DeclaringMoreThan5GiB_EntityTooLargeAndNothingStored()
    {
        using var http = new HttpClient { BaseAddress = environment.Sidecar.S3Endpoint }.WithAnyKeySignature();
        using var content = new ByteArrayContent("5\r\nhello\r\n0\r\n\r\n"u8.ToArray());
        content.Headers.Add("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
        content.Headers.Add("x-amz-decoded-content-length", ((5L * 1024 * 1024 * 1024) + 1).ToString(CultureInfo.InvariantCulture));
        content.Headers.ContentEncoding.Add("aws-chunked");

        using var response = await http.PutAsync(new Uri($"/{WriteThroughEnvironment.Writable}/large/too-large.bin", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>EntityTooLarge</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(await environment.RemoteSha256Async("rw/large/too-large.bin"));
    }
}
