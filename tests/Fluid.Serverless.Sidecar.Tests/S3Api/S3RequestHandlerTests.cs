using System.Net;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Tests.Hosting;
using Fluid.Serverless.Testing;
using static Fluid.Serverless.Sidecar.Tests.S3Api.S3TestHelpers;

namespace Fluid.Serverless.Sidecar.Tests.S3Api;

/// <summary>Request parsing, path traversal, writes refused, protocol abuse: the endpoint answers and keeps serving.</summary>
public sealed class S3RequestHandlerTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    private readonly TestSidecar _sidecar = fixture.Sidecar;

    [Theory]
    [InlineData("/data/../outside/secret.txt")]
    [InlineData("/data/../secret.txt")]
    [InlineData("/data/%2e%2e/outside/secret.txt")]
    [InlineData("/data/%2E%2E%2Foutside%2Fsecret.txt")]
    [InlineData("/data/a/%2e%2e/%2e%2e/secret.txt")]
    [InlineData("/data/..%5Csecret.txt")]
    [InlineData("/data/..%2F..%2Fsecret.txt")]
    [InlineData("/data//etc/passwd")]
    [InlineData("/data/%2Fetc%2Fpasswd")]
    [InlineData("/data/./hello.txt")]
    [InlineData("/data/hello.txt%00.png")]
    [InlineData("/data/list//k001")]
    public async Task RawTraversalAttempt_Returns400InvalidArgument_AndNeverEscapes(string target)
    {
        var response = await _sidecar.SendRawAsync($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.DoesNotContain(TestSidecar.SecretText, response.Body, StringComparison.Ordinal);
        if (target.Contains("%00", StringComparison.Ordinal))
        {
            // Kestrel itself refuses a NUL in the path before the S3 handler runs: a bare 400.
            return;
        }

        Assert.Contains("<Code>InvalidArgument</Code>", response.Body, StringComparison.Ordinal);
        Assert.Contains($"<RequestId>{response.Headers["x-amz-request-id"]}</RequestId>", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawTraversalAttempt_ViaVirtualHostAndAbsoluteForm_NeverEscapes()
    {
        var virtualHost = await _sidecar.SendRawAsync("GET /../outside/secret.txt HTTP/1.1\r\nHost: data.localhost\r\nConnection: close\r\n\r\n");
        var absolute = await _sidecar.SendRawAsync($"GET http://127.0.0.1:{_sidecar.S3Port}/data/%2e%2e/secret.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, virtualHost.Status);
        Assert.Equal(400, absolute.Status);
        Assert.DoesNotContain(TestSidecar.SecretText, virtualHost.Body + absolute.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SdkGetObject_DotDotKey_IsRejectedNotServed()
    {
        using var s3 = _sidecar.CreateS3Client();
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectAsync(TestSidecar.Bucket, "../outside/secret.txt"));

        Assert.Equal("InvalidArgument", error.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
    }

    [Fact]
    public async Task Writes_OnReadOnlyDataset_AreAccessDeniedAndChangeNothing()
    {
        using var http = _sidecar.CreateHttpClient().WithAnyKeySignature();
        using (var put = await http.PutAsync("/data/new.txt", new StringContent("x")))
        {
            var error = await AssertS3ErrorAsync(put, HttpStatusCode.Forbidden, "AccessDenied");
            Assert.Contains("read-only", error.Element("Message")!.Value, StringComparison.Ordinal);
        }

        using (var delete = await http.DeleteAsync("/data/hello.txt"))
        {
            await AssertS3ErrorAsync(delete, HttpStatusCode.Forbidden, "AccessDenied");
        }

        using (var post = await http.PostAsync("/data?delete", new StringContent("<Delete/>")))
        {
            await AssertS3ErrorAsync(post, HttpStatusCode.Forbidden, "AccessDenied");
        }

        Assert.False(File.Exists(Path.Combine(_sidecar.DataDirectory, "new.txt")));
        Assert.Equal(TestSidecar.Files["hello.txt"], File.ReadAllBytes(Path.Combine(_sidecar.DataDirectory, "hello.txt")));

        using var s3 = _sidecar.CreateS3Client();
        var sdkError = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = TestSidecar.Bucket,
            Key = "sdk.txt",
            ContentBody = "hello",
        }));
        Assert.Equal("AccessDenied", sdkError.ErrorCode);
        Assert.False(File.Exists(Path.Combine(_sidecar.DataDirectory, "sdk.txt")));
    }

    [Theory]
    [InlineData("PUT", "/scratch/new.txt", "PutObject")]
    [InlineData("DELETE", "/scratch/keep.txt", "DeleteObject")]
    [InlineData("POST", "/scratch?delete", "DeleteObjects")]
    [InlineData("POST", "/scratch/big.bin?uploads", "CreateMultipartUpload")]
    [InlineData("PUT", "/scratch/keep.txt?tagging", "UnsupportedWriteSubresource")]
    public async Task DefaultPosture_UnsignedWrite_AccessDeniedSaysHowToFix(string method, string target, string operation)
    {
        using var http = _sidecar.CreateHttpClient();

        using var response = await http.SendAsync(new HttpMethod(method), target, r => r.Content = new StringContent("x"));

        var error = await AssertS3ErrorAsync(response, HttpStatusCode.Forbidden, "AccessDenied");
        Assert.Equal(
            $"Unsigned request refused: {operation} needs a signed request. The sidecar accepts unsigned requests only for reading datasets; "
            + "sign the request with AWS Signature Version 4 (any access key and secret work, e.g. the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            + "the injector sets) instead of sending it anonymously (--no-sign-request, UNSIGNED, plain curl).",
            error.Element("Message")!.Value);
        Assert.Equal(["keep.txt"], Directory.GetFiles(Path.Combine(_sidecar.Root, "datasets", "scratch")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task DefaultPosture_UnsignedReads_AndPresignedWrites_PassThePosture()
    {
        using var http = _sidecar.CreateHttpClient();
        using var get = await http.GetAsync("/data/hello.txt");
        using var head = await http.SendAsync(HttpMethod.Head, "/data/hello.txt");
        using var list = await http.GetAsync("/data?list-type=2");
        using var buckets = await http.GetAsync("/");
        // A presigned-shaped query counts as signed (any key): the request reaches the write path.
        using var presigned = await http.PutAsync(
            "/scratch/new.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=any%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            new StringContent("x"));

        Assert.Equal(TestSidecar.Files["hello.txt"], await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(HttpStatusCode.OK, buckets.StatusCode);
        await AssertS3ErrorAsync(presigned, HttpStatusCode.NotImplemented, "NotImplemented");
    }

    [Fact]
    public async Task Writes_WritableDatasetWhoseSourceCannotWrite_NotImplementedAndChangeNothing()
    {
        using var http = _sidecar.CreateHttpClient().WithAnyKeySignature();
        using (var put = await http.PutAsync($"/{TestSidecar.WritableBucket}/new.txt", new StringContent("x")))
        {
            var error = await AssertS3ErrorAsync(put, HttpStatusCode.NotImplemented, "NotImplemented");
            // The test stand-in source (DirectoryTestSource) does not implement IWritableObjectSource.
            Assert.Contains($"dataset '{TestSidecar.WritableBucket}' is writable but its source", error.Element("Message")!.Value, StringComparison.Ordinal);
        }

        using (var delete = await http.DeleteAsync($"/{TestSidecar.WritableBucket}/keep.txt"))
        {
            await AssertS3ErrorAsync(delete, HttpStatusCode.NotImplemented, "NotImplemented");
        }

        var scratch = Path.Combine(_sidecar.Root, "datasets", "scratch");
        Assert.Equal(["keep.txt"], Directory.GetFiles(scratch).Select(Path.GetFileName));
    }

    [Fact]
    public async Task UnknownMethodsAndSubresources_GetS3Errors()
    {
        using var http = _sidecar.CreateHttpClient();
        using (var r = await http.SendAsync(HttpMethod.Patch, "/data/hello.txt"))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        }

        using (var r = await http.SendAsync(HttpMethod.Put, "/"))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        }

        using (var r = await http.GetAsync("/data?versioning"))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.NotImplemented, "NotImplemented");
        }

        using (var r = await http.GetAsync("/data/hello.txt?tagging"))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.NotImplemented, "NotImplemented");
        }
    }

    [Fact]
    public async Task HugeHeader_Returns431_AndTheServerKeepsServing()
    {
        var huge = new string('a', 200 * 1024);
        var response = await _sidecar.SendRawAsync($"GET /data/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: {huge}\r\nConnection: close\r\n\r\n");
        Assert.Equal(431, response.Status);

        var many = new StringBuilder();
        for (var i = 0; i < 2000; i++)
        {
            many.Append("X-H").Append(i).Append(": ").Append(new string('b', 40)).Append("\r\n");
        }

        var manyResponse = await _sidecar.SendRawAsync($"GET /data/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}Connection: close\r\n\r\n");
        Assert.Equal(431, manyResponse.Status);

        using var http = _sidecar.CreateHttpClient();
        using var ok = await http.GetAsync("/data/hello.txt");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(TestSidecar.Files["hello.txt"], await ok.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task MalformedRequestLine_GetsAnError_AndTheServerKeepsServing()
    {
        var bad = await _sidecar.SendRawAsync("GET /data/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, bad.Status);
        var badPercent = await _sidecar.SendRawAsync("GET /data/%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, badPercent.Status);
        var badUtf8 = await _sidecar.SendRawAsync("GET /data/%C3%28 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, badUtf8.Status);

        using var http = _sidecar.CreateHttpClient();
        using var ok = await http.GetAsync("/data/hello.txt");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task KeyLongerThan1024Bytes_IsRejected()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync("/data/" + new string('k', 1025));

        await AssertS3ErrorAsync(r, HttpStatusCode.BadRequest, "InvalidArgument");
    }
}
