using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Tests.Hosting;
using static Fluid.Serverless.Sidecar.Tests.S3Api.S3TestHelpers;

namespace Fluid.Serverless.Sidecar.Tests.S3Api;

/// <summary>GetObject/HeadObject semantics against real Kestrel, checked with raw HTTP and with AWSSDK.S3.</summary>
public sealed class GetObjectTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    private const string BigKey = "blobs/big.bin";
    private static readonly byte[] Big = TestSidecar.Files[BigKey];
    private readonly TestSidecar _sidecar = fixture.Sidecar;

    [Fact]
    public async Task Get_WholeObject_Returns200WithBytesAndHeaders()
    {
        using var http = _sidecar.CreateHttpClient();
        using var response = await http.GetAsync($"/data/{BigKey}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Sha(Big), Sha(await response.Content.ReadAsByteArrayAsync()));
        Assert.Equal(Big.Length, response.Content.Headers.ContentLength);
        Assert.Equal("\"" + Convert.ToHexStringLower(MD5.HashData(Big)) + "\"", response.Headers.ETag?.Tag);
        Assert.Equal("bytes", response.Header("Accept-Ranges"));
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        var lastModified = response.Content.Headers.LastModified;
        Assert.NotNull(lastModified);
        Assert.EndsWith("GMT", response.Header("Last-Modified"), StringComparison.Ordinal);
        Assert.Equal(16, response.Header("x-amz-request-id")!.Length);
        Assert.Null(response.Content.Headers.ContentRange);
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=1000-1999", 1000, 1000)]
    [InlineData("bytes=3000000-", 3000000, 3 * 1024 * 1024 + 17 - 3000000)]
    [InlineData("bytes=-500", 3 * 1024 * 1024 + 17 - 500, 500)]
    [InlineData("bytes=3145700-99999999", 3145700, 3 * 1024 * 1024 + 17 - 3145700)]
    [InlineData("bytes=-99999999", 0, 3 * 1024 * 1024 + 17)]
    [InlineData("bytes=5-5", 5, 1)]
    public async Task Get_SingleRange_Returns206WithExactBytesAndContentRange(string range, long offset, int length)
    {
        using var http = _sidecar.CreateHttpClient();
        using var response = await http.SendAsync(HttpMethod.Get, $"/data/{BigKey}", r => r.Headers.TryAddWithoutValidation("Range", range));

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(Sha(Big.AsSpan((int)offset, length).ToArray()), Sha(body));
        Assert.Equal($"bytes {offset}-{offset + length - 1}/{Big.Length}", response.Header("Content-Range"));
        Assert.Equal(length, response.Content.Headers.ContentLength);
        Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("bytes=0-1,5-9")]
    [InlineData("bytes=abc")]
    [InlineData("bytes=1-x")]
    [InlineData("items=0-9")]
    [InlineData("bytes=9-5")]
    [InlineData("bytes=")]
    [InlineData("bytes=-")]
    public async Task Get_MultiOrMalformedRange_IsIgnoredWith200FullBody(string range)
    {
        using var http = _sidecar.CreateHttpClient();
        using var response = await http.SendAsync(HttpMethod.Get, $"/data/{BigKey}", r => r.Headers.TryAddWithoutValidation("Range", range));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Sha(Big), Sha(await response.Content.ReadAsByteArrayAsync()));
        Assert.Null(response.Content.Headers.ContentRange);
    }

    [Theory]
    [InlineData("blobs/big.bin", "bytes=3145745-", 3 * 1024 * 1024 + 17)]
    [InlineData("blobs/big.bin", "bytes=99999999-100000000", 3 * 1024 * 1024 + 17)]
    [InlineData("blobs/big.bin", "bytes=-0", 3 * 1024 * 1024 + 17)]
    [InlineData("empty.txt", "bytes=0-", 0)]
    [InlineData("empty.txt", "bytes=0-0", 0)]
    [InlineData("empty.txt", "bytes=-1", 0)]
    public async Task Get_UnsatisfiableRange_Returns416InvalidRangeWithContentRangeStar(string key, string range, long size)
    {
        using var http = _sidecar.CreateHttpClient();
        using var response = await http.SendAsync(HttpMethod.Get, $"/data/{key}", r => r.Headers.TryAddWithoutValidation("Range", range));

        var error = await AssertS3ErrorAsync(response, HttpStatusCode.RequestedRangeNotSatisfiable, "InvalidRange");
        Assert.Equal($"bytes */{size}", response.Header("Content-Range"));
        Assert.Equal(key, error.Element("Key")?.Value);
    }

    [Fact]
    public async Task Get_EmptyObjectWithoutRange_Returns200Empty()
    {
        using var http = _sidecar.CreateHttpClient();
        using var response = await http.GetAsync("/data/empty.txt");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Get_Conditionals_FollowRfc7232Order()
    {
        using var http = _sidecar.CreateHttpClient();
        using var plain = await http.GetAsync("/data/hello.txt");
        var etag = plain.Headers.ETag!.Tag;
        var lastModified = plain.Content.Headers.LastModified!.Value;
        var past = lastModified.AddDays(-1).ToString("r");
        var future = lastModified.AddDays(1).ToString("r");

        async Task<HttpResponseMessage> Get(params (string Name, string Value)[] headers) =>
            await http.SendAsync(HttpMethod.Get, "/data/hello.txt", r =>
            {
                foreach (var (name, value) in headers)
                {
                    r.Headers.TryAddWithoutValidation(name, value);
                }
            });

        using (var r = await Get(("If-Match", etag)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        using (var r = await Get(("If-Match", "\"0000\"")))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.PreconditionFailed, "PreconditionFailed");
        }

        using (var r = await Get(("If-Unmodified-Since", past)))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.PreconditionFailed, "PreconditionFailed");
        }

        // If-Match present and true: If-Unmodified-Since is not evaluated (RFC 7232 §3.4, S3 documents the same).
        using (var r = await Get(("If-Match", etag), ("If-Unmodified-Since", past)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        using (var r = await Get(("If-None-Match", etag)))
        {
            Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
            Assert.Equal(etag, r.Headers.ETag?.Tag);
            Assert.Empty(await r.Content.ReadAsByteArrayAsync());
            Assert.NotNull(r.Header("x-amz-request-id"));
        }

        using (var r = await Get(("If-Modified-Since", future)))
        {
            Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
            Assert.Equal(etag, r.Headers.ETag?.Tag);
        }

        using (var r = await Get(("If-Modified-Since", past)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        // If-None-Match present and false: If-Modified-Since is not evaluated.
        using (var r = await Get(("If-None-Match", "\"0000\""), ("If-Modified-Since", future)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(TestSidecar.Files["hello.txt"], await r.Content.ReadAsByteArrayAsync());
        }

        // Preconditions come before the range: a failing If-Match with an unsatisfiable range is 412, not 416.
        using (var r = await Get(("If-Match", "\"0000\""), ("Range", "bytes=999999-")))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.PreconditionFailed, "PreconditionFailed");
        }

        using (var r = await Get(("If-Match", "*")))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
    }

    [Fact]
    public async Task Get_PartNumber_OneIsWholeObjectAndOthersAreInvalid()
    {
        using var http = _sidecar.CreateHttpClient();
        using (var r = await http.GetAsync("/data/hello.txt?partNumber=1"))
        {
            var hello = TestSidecar.Files["hello.txt"];
            Assert.Equal(HttpStatusCode.PartialContent, r.StatusCode);
            Assert.Equal(hello, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal($"bytes 0-{hello.Length - 1}/{hello.Length}", r.Header("Content-Range"));
            Assert.Null(r.Header("x-amz-mp-parts-count"));
        }

        using (var r = await http.GetAsync("/data/hello.txt?partNumber=2"))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.RequestedRangeNotSatisfiable, "InvalidPartNumber");
        }

        foreach (var bad in new[] { "0", "abc", "10001", "-1" })
        {
            using var r = await http.GetAsync($"/data/hello.txt?partNumber={bad}");
            await AssertS3ErrorAsync(r, HttpStatusCode.BadRequest, "InvalidArgument");
        }

        using (var r = await http.SendAsync(HttpMethod.Get, "/data/hello.txt?partNumber=1", m => m.Headers.TryAddWithoutValidation("Range", "bytes=0-1")))
        {
            await AssertS3ErrorAsync(r, HttpStatusCode.BadRequest, "InvalidRequest");
        }
    }

    [Fact]
    public async Task Get_ResponseOverrides_ReplaceHeaders()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync("/data/hello.txt?response-content-type=application%2Fjson&response-content-disposition=attachment%3B%20filename%3Dx.json&response-cache-control=no-cache");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment; filename=x.json", r.Header("Content-Disposition"));
        Assert.Equal("no-cache", r.Header("Cache-Control"));
    }

    [Fact]
    public async Task Head_ReturnsGetHeadersWithoutBody_AndErrorsWithoutBody()
    {
        using var http = _sidecar.CreateHttpClient();
        using (var get = await http.GetAsync($"/data/{BigKey}"))
        using (var head = await http.SendAsync(HttpMethod.Head, $"/data/{BigKey}"))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(Big.Length, head.Content.Headers.ContentLength);
            Assert.Equal(get.Headers.ETag, head.Headers.ETag);
            Assert.Equal(get.Content.Headers.LastModified, head.Content.Headers.LastModified);
            Assert.Equal("bytes", head.Header("Accept-Ranges"));
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        using (var head = await http.SendAsync(HttpMethod.Head, $"/data/{BigKey}", r => r.Headers.TryAddWithoutValidation("Range", "bytes=10-19")))
        {
            Assert.Equal(HttpStatusCode.PartialContent, head.StatusCode);
            Assert.Equal(10, head.Content.Headers.ContentLength);
            Assert.Equal($"bytes 10-19/{Big.Length}", head.Header("Content-Range"));
        }

        using (var missing = await http.SendAsync(HttpMethod.Head, "/data/nope.txt"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Empty(await missing.Content.ReadAsByteArrayAsync());
            Assert.NotNull(missing.Header("x-amz-request-id"));
        }
    }

    [Fact]
    public async Task Get_MissingKeyAndBucket_ReturnNoSuchKeyAndNoSuchBucket()
    {
        using var http = _sidecar.CreateHttpClient();
        using (var r = await http.GetAsync("/data/no/such/key.txt"))
        {
            var error = await AssertS3ErrorAsync(r, HttpStatusCode.NotFound, "NoSuchKey");
            Assert.Equal("no/such/key.txt", error.Element("Key")?.Value);
        }

        using (var r = await http.GetAsync("/no-such-bucket/key.txt"))
        {
            var error = await AssertS3ErrorAsync(r, HttpStatusCode.NotFound, "NoSuchBucket");
            Assert.Equal("no-such-bucket", error.Element("BucketName")?.Value);
        }

        using var s3 = _sidecar.CreateS3Client();
        var sdkError = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectAsync("no-such-bucket", "key.txt"));
        Assert.Equal("NoSuchBucket", sdkError.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, sdkError.StatusCode);
        Assert.False(string.IsNullOrEmpty(sdkError.RequestId));
    }

    [Theory]
    [InlineData("dir with space/file name.txt")]
    [InlineData("unicode/ünïcødé-文件.txt")]
    [InlineData("plus/a+b.txt")]
    [InlineData("percent/100%.txt")]
    [InlineData("special/&<>\"'.txt")]
    [InlineData("deep/a/b/c/d/e/f.txt")]
    public async Task SdkGetObject_SpecialKeys_RoundTripBytes(string key)
    {
        using var s3 = _sidecar.CreateS3Client();
        using var response = await s3.GetObjectAsync(TestSidecar.Bucket, key);
        using var body = new MemoryStream();
        await response.ResponseStream.CopyToAsync(body);

        Assert.Equal(Sha(TestSidecar.Files[key]), Sha(body.ToArray()));
        var metadata = await s3.GetObjectMetadataAsync(TestSidecar.Bucket, key);
        Assert.Equal(TestSidecar.Files[key].Length, metadata.ContentLength);
    }

    [Fact]
    public async Task SdkGetObject_RangeAndEtagPinned_ReturnsExactSlice()
    {
        using var s3 = _sidecar.CreateS3Client();
        var metadata = await s3.GetObjectMetadataAsync(TestSidecar.Bucket, BigKey);
        using var response = await s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = TestSidecar.Bucket,
            Key = BigKey,
            ByteRange = new ByteRange(1_048_576, 2_097_151),
            EtagToMatch = metadata.ETag,
        });
        using var body = new MemoryStream();
        await response.ResponseStream.CopyToAsync(body);

        Assert.Equal(HttpStatusCode.PartialContent, response.HttpStatusCode);
        Assert.Equal(Sha(Big.AsSpan(1_048_576, 1_048_576).ToArray()), Sha(body.ToArray()));
        Assert.Equal($"bytes 1048576-2097151/{Big.Length}", response.ContentRange);
    }

    [Fact]
    public async Task Get_VirtualHostStyle_ResolvesBucketFromHost()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.SendAsync(HttpMethod.Get, "/plus/a+b.txt", m => m.Headers.Host = $"data.localhost:{_sidecar.S3Port}");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(TestSidecar.Files["plus/a+b.txt"], await r.Content.ReadAsByteArrayAsync());

        using var list = await http.SendAsync(HttpMethod.Get, "/?list-type=2&prefix=plus/", m => m.Headers.Host = $"data.localhost:{_sidecar.S3Port}");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Contains("<Key>plus/a+b.txt</Key>", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_RemoteDownAndNothingCached_Returns503ServiceUnavailable()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync($"/{TestSidecar.BrokenBucket}/any.bin");

        var error = await AssertS3ErrorAsync(r, HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        Assert.Contains("broken", error.Element("Message")!.Value, StringComparison.Ordinal);

        using var list = await http.GetAsync($"/{TestSidecar.BrokenBucket}?list-type=2");
        await AssertS3ErrorAsync(list, HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
    }

    [Fact]
    public async Task Get_RequestIds_AreUniquePerRequest()
    {
        using var http = _sidecar.CreateHttpClient();
        var ids = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            using var r = await http.GetAsync("/data/hello.txt");
            Assert.True(ids.Add(r.Header("x-amz-request-id")!));
        }
    }
}
