using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>A real sidecar process over moto: a writable dataset "rw" and a read-only "ro" on the same remote bucket.</summary>
public sealed class WriteThroughEnvironment : IAsyncLifetime
{
    public const string Writable = "rw-data";
    public const string ReadOnly = "ro-data";
    public const string RemoteBucket = "writes-remote";
    public const string LocalWritable = "local-rw";

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Sidecar { get; private set; } = null!;
    public string Root { get; } = Directory.CreateTempSubdirectory("fluid-writes-").FullName;

    /// <summary>The directory behind the writable local:// dataset <see cref="LocalWritable"/>.</summary>
    public string LocalRoot => Path.Combine(Root, "local-dataset");

    public async Task InitializeAsync()
    {
        Moto = await MotoProcess.StartAsync();
        using (var s3 = Moto.CreateClient())
        {
            await s3.PutBucketAsync(RemoteBucket);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = RemoteBucket, Key = "ro/existing.txt", ContentBody = "existing" });
        }

        Directory.CreateDirectory(LocalRoot);
        Sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets =
                [
                    TestDatasets.S3(Writable, RemoteBucket, Moto.Endpoint, prefix: "rw/") with { ReadOnly = false },
                    TestDatasets.S3(ReadOnly, RemoteBucket, Moto.Endpoint, prefix: "ro/"),
                    new DatasetConfig { Name = LocalWritable, Source = "local://" + LocalRoot, ReadOnly = false },
                ],
            },
            Moto.ClientEnvironment);
    }

    public async Task DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Moto.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }

    /// <summary>An AWSSDK client of the sidecar with the SDK's default checksum behaviour (aws-chunked + CRC trailer).</summary>
    public AmazonS3Client SidecarClient() => new(
        new BasicAWSCredentials("app", "app-secret"),
        new AmazonS3Config { ServiceURL = Sidecar.S3Endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

    public async Task<string?> RemoteSha256Async(string key)
    {
        using var s3 = Moto.CreateClient();
        try
        {
            using var response = await s3.GetObjectAsync(RemoteBucket, key);
            var output = new MemoryStream();
            await response.ResponseStream.CopyToAsync(output);
            return Convert.ToHexStringLower(SHA256.HashData(output.ToArray()));
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<int> RemoteMultipartUploadCountAsync()
    {
        using var s3 = Moto.CreateClient();
        var uploads = await s3.ListMultipartUploadsAsync(RemoteBucket);
        return uploads.MultipartUploads?.Count ?? 0;
    }

    public Dictionary<string, string?> ClientEnvironment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = "app",
        ["AWS_SECRET_ACCESS_KEY"] = "app-secret",
        ["AWS_DEFAULT_REGION"] = "us-east-1",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_CONFIG_FILE"] = Path.Combine(Root, "no-config"),
        ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(Root, "no-credentials"),
        ["AWS_EC2_METADATA_DISABLED"] = "true",
        ["AWS_ENDPOINT_URL"] = null,
        ["AWS_ENDPOINT_URL_S3"] = null,
        ["AWS_PROFILE"] = null,
        ["AWS_PAGER"] = "",
    };

    public static byte[] RandomBytes(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

[CollectionDefinition(Name)]
public sealed class WriteThroughCollection : ICollectionFixture<WriteThroughEnvironment>
{
    public const string Name = "Writes through a sidecar process to moto";
}

[Collection(WriteThroughCollection.Name)]
public sealed class WriteThroughTests(WriteThroughEnvironment environment)
{
    [Fact]
    public async Task PutObject_AwsSdkDefaultChecksums_StoredAtRemoteAndReadableThroughSidecar()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(300_000);
        using var s3 = environment.SidecarClient();

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "sdk/put.bin", InputStream = new MemoryStream(bytes) });

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/sdk/put.bin"));
        using var read = await s3.GetObjectAsync(WriteThroughEnvironment.Writable, "sdk/put.bin");
        var output = new MemoryStream();
        await read.ResponseStream.CopyToAsync(output);
        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), WriteThroughEnvironment.Sha256(output.ToArray()));
    }

    [Fact]
    public async Task PutObject_Overwrite_ReadThroughSidecarSeesNewVersion()
    {
        using var s3 = environment.SidecarClient();
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "sdk/overwrite.txt", ContentBody = "first version" });
        using (var first = await s3.GetObjectAsync(WriteThroughEnvironment.Writable, "sdk/overwrite.txt"))
        {
            Assert.Equal("first version", await new StreamReader(first.ResponseStream).ReadToEndAsync());
        }

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "sdk/overwrite.txt", ContentBody = "second, longer version" });

        using var second = await s3.GetObjectAsync(WriteThroughEnvironment.Writable, "sdk/overwrite.txt");
        Assert.Equal("second, longer version", await new StreamReader(second.ResponseStream).ReadToEndAsync());
    }

    [Fact]
    public async Task TransferUtility_64MiB_MultipartStoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(64 * 1024 * 1024);
        using var s3 = environment.SidecarClient();
        using var transfer = new TransferUtility(s3);

        await transfer.UploadAsync(new MemoryStream(bytes), WriteThroughEnvironment.Writable, "sdk/transfer-64mib.bin");

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/sdk/transfer-64mib.bin"));
        Assert.Equal(0, await environment.RemoteMultipartUploadCountAsync());
    }

    [Fact]
    public async Task Boto3_PutObjectAndUploadFile40MiB_StoredExactly()
    {
        var small = WriteThroughEnvironment.RandomBytes(123_457);
        var big = WriteThroughEnvironment.RandomBytes(40 * 1024 * 1024);
        var smallPath = Path.Combine(environment.Root, "boto-small.bin");
        var bigPath = Path.Combine(environment.Root, "boto-big.bin");
        await File.WriteAllBytesAsync(smallPath, small);
        await File.WriteAllBytesAsync(bigPath, big);
        const string Script = """
            import sys, boto3
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
            with open(sys.argv[3], "rb") as f:
                s3.put_object(Bucket=sys.argv[2], Key="boto/put.bin", Body=f.read())
            s3.upload_file(sys.argv[4], sys.argv[2], "boto/upload-40mib.bin")
            """;

        await CommandRunner.RunCheckedAsync(
            "python3",
            ["-c", Script, environment.Sidecar.S3Endpoint.ToString(), WriteThroughEnvironment.Writable, smallPath, bigPath],
            environment.ClientEnvironment());

        Assert.Equal(WriteThroughEnvironment.Sha256(small), await environment.RemoteSha256Async("rw/boto/put.bin"));
        Assert.Equal(WriteThroughEnvironment.Sha256(big), await environment.RemoteSha256Async("rw/boto/upload-40mib.bin"));
    }

    [Fact]
    public async Task AwsCliV2_Cp100MiB_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(100 * 1024 * 1024);
        var path = Path.Combine(environment.Root, "cli-up.bin");
        await File.WriteAllBytesAsync(path, bytes);

        await CommandRunner.RunCheckedAsync(
            "/usr/bin/aws",
            ["--endpoint-url", environment.Sidecar.S3Endpoint.ToString(), "s3", "cp", "--no-progress", path, $"s3://{WriteThroughEnvironment.Writable}/cli/up.bin"],
            environment.ClientEnvironment());

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/cli/up.bin"));
    }

    [Fact]
    public async Task PutObject_WrongChecksumHeader_BadDigestAndNothingStored()
    {
        using var http = new HttpClient { BaseAddress = environment.Sidecar.S3Endpoint }.WithAnyKeySignature();
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes("payload that does not match"));
        content.Headers.Add("x-amz-checksum-crc32", "AAAAAA==");

        using var response = await http.PutAsync(new Uri($"/{WriteThroughEnvironment.Writable}/bad/crc.txt", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>BadDigest</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(await environment.RemoteSha256Async("rw/bad/crc.txt"));
    }

    [Fact]
    public async Task PutObject_WrongTrailerAfter20MiBChunkedBody_BadDigestNoObjectNoUploadLeft()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(20 * 1024 * 1024);
        var body = new MemoryStream();
        for (var offset = 0; offset < bytes.Length; offset += 1 << 20)
        {
            body.Write(Encoding.ASCII.GetBytes($"100000\r\n"));
            body.Write(bytes, offset, 1 << 20);
            body.Write("\r\n"u8);
        }

        body.Write("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"u8);
        using var http = new HttpClient { BaseAddress = environment.Sidecar.S3Endpoint }.WithAnyKeySignature();
        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.Add("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
        content.Headers.Add("x-amz-trailer", "x-amz-checksum-crc32");
        content.Headers.Add("x-amz-decoded-content-length", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        content.Headers.ContentEncoding.Add("aws-chunked");

        using var response = await http.PutAsync(new Uri($"/{WriteThroughEnvironment.Writable}/bad/trailer.bin", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>BadDigest</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(await environment.RemoteSha256Async("rw/bad/trailer.bin"));
        Assert.Equal(0, await environment.RemoteMultipartUploadCountAsync());
    }

    [Fact]
    public async Task PutObject_ClientDisconnectsMidBody_NothingStoredAndSidecarKeepsServing()
    {
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, environment.Sidecar.S3Endpoint.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"PUT /{WriteThroughEnvironment.Writable}/bad/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n"));
            await stream.WriteAsync(WriteThroughEnvironment.RandomBytes(12 * 1024 * 1024));
        }

        // The sidecar keeps serving; give it the moment it needs to notice the cut and abort.
        using var s3 = environment.SidecarClient();
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "bad/after-cut.txt", ContentBody = "still serving" });
        Assert.NotNull(await environment.RemoteSha256Async("rw/bad/after-cut.txt"));
        for (var attempt = 0; attempt < 50 && await environment.RemoteMultipartUploadCountAsync() > 0; attempt++)
        {
            await Task.Delay(100);
        }

        Assert.Null(await environment.RemoteSha256Async("rw/bad/cut.bin"));
        Assert.Equal(0, await environment.RemoteMultipartUploadCountAsync());
    }

    [Fact]
    public async Task PutAndDelete_ReadOnlyDataset_AccessDeniedAndRemoteUnchanged()
    {
        using var s3 = environment.SidecarClient();

        var put = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.ReadOnly, Key = "existing.txt", ContentBody = "overwrite" }));
        var delete = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(WriteThroughEnvironment.ReadOnly, "existing.txt"));

        Assert.Equal("AccessDenied", put.ErrorCode);
        Assert.Equal("AccessDenied", delete.ErrorCode);
        Assert.Equal(WriteThroughEnvironment.Sha256("existing"u8.ToArray()), await environment.RemoteSha256Async("ro/existing.txt"));
    }

    [Fact]
    public async Task DeleteObjects_500Keys_AllGoneAtRemote()
    {
        using (var remote = environment.Moto.CreateClient())
        {
            for (var i = 0; i < 500; i++)
            {
                await remote.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.RemoteBucket, Key = $"rw/many/{i:D4}", ContentBody = "x" });
            }
        }

        using var s3 = environment.SidecarClient();
        var request = new DeleteObjectsRequest { BucketName = WriteThroughEnvironment.Writable };
        for (var i = 0; i < 500; i++)
        {
            request.AddKey($"many/{i:D4}");
        }

        var response = await s3.DeleteObjectsAsync(request);

        Assert.Equal(500, response.DeletedObjects.Count);
        using var check = environment.Moto.CreateClient();
        var left = await check.ListObjectsV2Async(new ListObjectsV2Request { BucketName = WriteThroughEnvironment.RemoteBucket, Prefix = "rw/many/" });
        Assert.Empty(left.S3Objects ?? []);
    }

    [Fact]
    public async Task CopyAndDeleteObject_WithinDataset_LandAtRemote()
    {
        using var s3 = environment.SidecarClient();
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = WriteThroughEnvironment.Writable, Key = "copy/source.txt", ContentBody = "copy me" });

        await s3.CopyObjectAsync(WriteThroughEnvironment.Writable, "copy/source.txt", WriteThroughEnvironment.Writable, "copy/target.txt");
        await s3.DeleteObjectAsync(WriteThroughEnvironment.Writable, "copy/source.txt");

        Assert.Equal(WriteThroughEnvironment.Sha256("copy me"u8.ToArray()), await environment.RemoteSha256Async("rw/copy/target.txt"));
        Assert.Null(await environment.RemoteSha256Async("rw/copy/source.txt"));
    }
}
