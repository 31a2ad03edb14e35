using System.Net;
using Amazon.S3.Model;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

// The fixtures themselves: each starts a real server that answers as expected. If one of these fails, every test
// built on that fixture would fail for a reason unrelated to the product.

[Collection(MotoCollection.Name)]
public sealed class MotoServerFixtureTests(MotoServerFixture moto)
{
    [Fact]
    public async Task PutThenGet_RoundTripsBytes()
    {
        var bucket = await moto.CreateBucketAsync("fixture");
        await moto.PutAsync(bucket, "a/b.txt", "hello"u8.ToArray());

        using var response = await moto.Client.GetObjectAsync(bucket, "a/b.txt");
        using var reader = new StreamReader(response.ResponseStream);

        Assert.Equal("hello", await reader.ReadToEndAsync());
    }
}

[Collection(S3rverCollection.Name)]
public sealed class S3rverFixtureTests(S3rverFixture s3rver)
{
    [Fact]
    public async Task PutThenList_ShowsTheKey()
    {
        var bucket = await s3rver.CreateBucketAsync("fixture");
        await s3rver.PutAsync(bucket, "a/b.txt", "hello"u8.ToArray());

        var listing = await s3rver.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });

        Assert.Equal(["a/b.txt"], listing.S3Objects.Select(o => o.Key));
        Assert.Equal(5, listing.S3Objects[0].Size);
    }
}

[Collection(NginxCollection.Name)]
public sealed class NginxFixtureTests(NginxFixture nginx)
{
    [Fact]
    public async Task Get_ServesWrittenFileWithETagAndRanges()
    {
        nginx.Write("dir/file.txt", "0123456789"u8.ToArray());
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(nginx.BaseUrl + "dir/file.txt"));
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(2, 4);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal("234", await response.Content.ReadAsStringAsync());
    }
}
