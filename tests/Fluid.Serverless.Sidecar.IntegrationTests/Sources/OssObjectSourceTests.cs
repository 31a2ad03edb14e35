using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>
/// oss:// goes through the S3 API with virtual-hosted addressing, as OSS requires. moto stands in for OSS: it answers
/// "bucket.localhost:port" requests; the FaultProxy (no faults) in front of it records the Host headers, which shows
/// the addressing actually used.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class OssObjectSourceTests(MotoServerFixture moto) : IAsyncLifetime
{
    private FaultProxy? proxy;

    public async Task InitializeAsync() => proxy = await FaultProxy.StartAsync(moto.Endpoint);

    public async Task DisposeAsync()
    {
        if (proxy is not null)
        {
            await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task ReadAsync_VirtualHostedAddressing_BytesEqual()
    {
        var bucket = await moto.CreateBucketAsync("oss");
        var content = RandomBytes(3 * 1024 * 1024 + 5, seed: 9);
        await moto.PutAsync(bucket, "train/shard-0.tar", content);
        var port = new Uri(proxy!.Endpoint).Port;
        await using var source = new SourceFactory(name => name == "OSS_SECRET" ? "testing" : null).Create(new DatasetConfig
        {
            Name = "oss-data",
            Source = $"oss://{bucket}/train",
            Options = new Dictionary<string, string> { ["fs.oss.endpoint"] = $"http://localhost:{port}", ["region"] = "us-east-1", ["fs.oss.accessKeyId"] = "testing" },
            SecretOptions = new Dictionary<string, string> { ["fs.oss.accessKeySecret"] = "OSS_SECRET" },
        });

        var obj = await source.HeadAsync("shard-0.tar", CancellationToken.None);
        var listing = await source.ListAsync(new ListRequest("", "/", null, 100), CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, chunk: 1024 * 1024)));
        Assert.Equal(["shard-0.tar"], listing.Objects.Select(o => o.Key));
        Assert.All(proxy.Hosts, host => Assert.Equal($"{bucket}.localhost:{port}", host));
        Assert.StartsWith("oss://", source.Identity, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou")]
    [InlineData("https://oss-cn-beijing-internal.aliyuncs.com", "cn-beijing")]
    [InlineData("https://s3.oss-ap-southeast-1.aliyuncs.com", "ap-southeast-1")]
    public void Create_RegionFromEndpoint_NoRegionOptionNeeded(string endpoint, string expectedRegion)
    {
        var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "oss-data",
            Source = "oss://bucket/",
            Options = new Dictionary<string, string> { ["endpoint"] = endpoint },
        });

        Assert.StartsWith("oss://", source.Identity, StringComparison.Ordinal);
        Assert.Equal(expectedRegion, OssOptionNames.RegionFromEndpoint(new Uri(endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "https://" + endpoint).Host));
    }

    [Theory]
    [InlineData(null, "option 'endpoint' is required")]
    [InlineData("https://oss.example.com", "option 'region' is required")]
    public void Create_MissingEndpointOrRegion_ThrowsNamingOption(string? endpoint, string expected)
    {
        var options = new Dictionary<string, string>();
        if (endpoint is not null)
        {
            options["endpoint"] = endpoint;
        }

        var error = Assert.Throws<ArgumentException>(() => new SourceFactory(_ => null).Create(new DatasetConfig { Name = "oss-data", Source = "oss://bucket/", Options = options }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_PathStyleRequested_ThrowsBecauseOssRejectsIt()
    {
        var error = Assert.Throws<ArgumentException>(() => new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "oss-data",
            Source = "oss://bucket/",
            Options = new Dictionary<string, string> { ["endpoint"] = "oss-cn-hangzhou.aliyuncs.com", ["pathStyle"] = "true" },
        }));

        Assert.Contains("virtual-hosted", error.Message, StringComparison.Ordinal);
    }
}
