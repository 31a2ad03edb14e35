using System.Net;
using System.Text;
using System.Xml.Linq;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Tests.Hosting;
using static Fluid.Serverless.Sidecar.Tests.S3Api.S3TestHelpers;

namespace Fluid.Serverless.Sidecar.Tests.S3Api;

/// <summary>ListObjectsV2, ListObjects (v1), ListBuckets, HeadBucket, GetBucketLocation.</summary>
public sealed class ListObjectsTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    private static readonly string[] AllKeys = [.. TestSidecar.Files.Keys.Order(Utf8Order.Instance)];
    private readonly TestSidecar _sidecar = fixture.Sidecar;

    [Fact]
    public async Task SdkListV2_AllKeys_InUtf8OrderWithSizesAndETags()
    {
        using var s3 = _sidecar.CreateS3Client();
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket });

        Assert.Equal(AllKeys, response.S3Objects.Select(o => o.Key));
        Assert.Equal(AllKeys.Length, response.KeyCount);
        Assert.False(response.IsTruncated);
        Assert.Null(response.NextContinuationToken);
        var big = response.S3Objects.Single(o => o.Key == "blobs/big.bin");
        Assert.Equal(TestSidecar.Files["blobs/big.bin"].Length, big.Size);
        Assert.StartsWith("\"", big.ETag, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SdkListV2_Paginated_ReturnsEveryKeyOnceWithTokenWheneverTruncated()
    {
        using var s3 = _sidecar.CreateS3Client();
        var keys = new List<string>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, MaxKeys = 4, ContinuationToken = token });
            pages++;
            keys.AddRange(page.S3Objects.Select(o => o.Key));
            Assert.True(page.S3Objects.Count <= 4);
            Assert.Equal(page.IsTruncated == true, page.NextContinuationToken is not null);
            Assert.Equal(token, page.ContinuationToken);
            token = page.NextContinuationToken;
        }
        while (token is not null);

        Assert.Equal(AllKeys, keys);
        Assert.Equal((AllKeys.Length + 3) / 4, pages);
    }

    [Fact]
    public async Task SdkListV2_PrefixAndDelimiter_RollUpCommonPrefixes()
    {
        using var s3 = _sidecar.CreateS3Client();
        var root = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Delimiter = "/" });
        Assert.Equal(["empty.txt", "hello.txt"], root.S3Objects.Select(o => o.Key));
        Assert.Equal(["blobs/", "deep/", "dir with space/", "list/", "percent/", "plus/", "special/", "unicode/"], root.CommonPrefixes);

        var list = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Prefix = "list/", Delimiter = "/", MaxKeys = 30 });
        Assert.Equal(25, list.S3Objects.Count);
        Assert.Equal(["list/sub/"], list.CommonPrefixes);
        Assert.Equal(26, list.KeyCount);

        // A common prefix counts once against max-keys and a page can end on it.
        var paged = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Prefix = "list/", Delimiter = "/", MaxKeys = 26 });
        Assert.False(paged.IsTruncated);
    }

    [Fact]
    public async Task SdkListV2_StartAfter_SkipsKeysUpToIt()
    {
        using var s3 = _sidecar.CreateS3Client();
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Prefix = "list/", StartAfter = "list/k020" });

        Assert.Equal(["list/k021", "list/k022", "list/k023", "list/k024", "list/sub/x", "list/sub/y"], response.S3Objects.Select(o => o.Key));
        Assert.Equal("list/k020", response.StartAfter);
    }

    [Fact]
    public async Task SdkListV2_EncodingTypeUrl_RoundTripsSpecialKeys()
    {
        using var s3 = _sidecar.CreateS3Client();
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Encoding = EncodingType.Url });

        // The .NET SDK hands url-encoded keys over as sent (botocore decodes them itself); decoding gives the keys back.
        Assert.Equal(EncodingType.Url, response.Encoding);
        Assert.Equal(AllKeys, response.S3Objects.Select(o => Uri.UnescapeDataString(o.Key)));
    }

    [Fact]
    public async Task RawListV2_EncodingTypeUrl_EncodesKeysAndEchoesType()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync("/data?list-type=2&encoding-type=url&prefix=");
        var xml = XDocument.Parse(await r.Content.ReadAsStringAsync()).Root!;

        Assert.Equal("url", xml.Element(S3 + "EncodingType")?.Value);
        var keys = xml.Elements(S3 + "Contents").Select(c => c.Element(S3 + "Key")!.Value).ToList();
        Assert.Contains("dir%20with%20space/file%20name.txt", keys);
        Assert.Contains("plus/a%2Bb.txt", keys);
        Assert.Contains("percent/100%25.txt", keys);
        Assert.Contains("unicode/%C3%BCn%C3%AFc%C3%B8d%C3%A9-%E6%96%87%E4%BB%B6.txt", keys);
    }

    [Fact]
    public async Task RawListV2_WithoutEncoding_EscapesXmlSpecials()
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync("/data?list-type=2&prefix=special/");
        var body = await r.Content.ReadAsStringAsync();

        Assert.Contains("<Key>special/&amp;&lt;&gt;&quot;&apos;.txt</Key>", body, StringComparison.Ordinal);
        Assert.Equal("special/&<>\"'.txt", XDocument.Parse(body).Root!.Element(S3 + "Contents")!.Element(S3 + "Key")!.Value);
        Assert.Equal("application/xml", r.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("not-base64!!")]
    [InlineData("AAAA")]
    [InlineData("dGhpcyBpcyBub3QgYSB0b2tlbg")]
    public async Task ListV2_InvalidContinuationToken_Returns400InvalidArgument(string token)
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync($"/data?list-type=2&continuation-token={Uri.EscapeDataString(token)}");

        var error = await AssertS3ErrorAsync(r, HttpStatusCode.BadRequest, "InvalidArgument");
        Assert.Equal("The continuation token provided is incorrect", error.Element("Message")?.Value);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    public async Task ListV2_BadMaxKeys_Returns400InvalidArgument(string maxKeys)
    {
        using var http = _sidecar.CreateHttpClient();
        using var r = await http.GetAsync($"/data?list-type=2&max-keys={maxKeys}");

        var error = await AssertS3ErrorAsync(r, HttpStatusCode.BadRequest, "InvalidArgument");
        Assert.Contains("max-keys", error.Element("Message")!.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListV2_MaxKeysZeroAndHuge_AreEmptyAndCapped()
    {
        using var http = _sidecar.CreateHttpClient();
        using (var zero = await http.GetAsync("/data?list-type=2&max-keys=0"))
        {
            var xml = XDocument.Parse(await zero.Content.ReadAsStringAsync()).Root!;
            Assert.Equal("0", xml.Element(S3 + "KeyCount")?.Value);
            Assert.Equal("false", xml.Element(S3 + "IsTruncated")?.Value);
            Assert.Empty(xml.Elements(S3 + "Contents"));
        }

        using var huge = await http.GetAsync("/data?list-type=2&max-keys=99999");
        var hugeXml = XDocument.Parse(await huge.Content.ReadAsStringAsync()).Root!;
        Assert.Equal("1000", hugeXml.Element(S3 + "MaxKeys")?.Value);
        Assert.Equal(AllKeys.Length, hugeXml.Elements(S3 + "Contents").Count());
    }

    [Fact]
    public async Task SdkListV1_MarkerAndNextMarker_PageThroughWithDelimiter()
    {
        using var s3 = _sidecar.CreateS3Client();
        var first = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = TestSidecar.Bucket, Prefix = "list/", Delimiter = "/", MaxKeys = 20 });
        Assert.True(first.IsTruncated);
        Assert.Equal("list/k019", first.NextMarker);
        Assert.Equal(20, first.S3Objects.Count);

        var second = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = TestSidecar.Bucket, Prefix = "list/", Delimiter = "/", Marker = first.NextMarker, MaxKeys = 20 });
        Assert.False(second.IsTruncated);
        Assert.Equal(["list/k020", "list/k021", "list/k022", "list/k023", "list/k024"], second.S3Objects.Select(o => o.Key));
        Assert.Equal(["list/sub/"], second.CommonPrefixes);

        // Without a delimiter S3 sends no NextMarker: clients continue from the last key.
        using var http = _sidecar.CreateHttpClient();
        using var raw = await http.GetAsync("/data?prefix=list/&max-keys=3");
        var xml = XDocument.Parse(await raw.Content.ReadAsStringAsync()).Root!;
        Assert.Equal("true", xml.Element(S3 + "IsTruncated")?.Value);
        Assert.Null(xml.Element(S3 + "NextMarker"));
    }

    [Fact]
    public async Task SdkListBuckets_HeadBucket_GetBucketLocation()
    {
        using var s3 = _sidecar.CreateS3Client();
        var buckets = await s3.ListBucketsAsync();
        Assert.Equal([TestSidecar.BrokenBucket, TestSidecar.Bucket, TestSidecar.WritableBucket], buckets.Buckets.Select(b => b.BucketName));

        var location = await s3.GetBucketLocationAsync(TestSidecar.Bucket);
        Assert.Equal(HttpStatusCode.OK, location.HttpStatusCode);

        using var http = _sidecar.CreateHttpClient();
        using (var head = await http.SendAsync(HttpMethod.Head, "/data"))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal("us-east-1", head.Header("x-amz-bucket-region"));
        }

        using (var head = await http.SendAsync(HttpMethod.Head, "/missing-bucket"))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        var error = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "missing-bucket" }));
        Assert.Equal("NoSuchBucket", error.ErrorCode);
    }

    [Fact]
    public async Task ListV2_UnicodePrefix_MatchesUtf8Keys()
    {
        using var s3 = _sidecar.CreateS3Client();
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestSidecar.Bucket, Prefix = "unicode/ünï" });

        Assert.Equal(["unicode/ünïcødé-文件.txt"], response.S3Objects.Select(o => o.Key));
        var bytes = Encoding.UTF8.GetBytes(response.S3Objects[0].Key);
        Assert.Equal(Encoding.UTF8.GetBytes("unicode/ünïcødé-文件.txt"), bytes);
    }
}
