using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>
/// The WebHDFS source against <see cref="FakeWebHdfsServer"/>: a FAKE, protocol-level WebHDFS server written for
/// these tests, because there is no HDFS on this machine.
/// </summary>
public sealed class WebHdfsObjectSourceTests : IAsyncLifetime
{
    private FakeWebHdfsServer? server;

    private FakeWebHdfsServer Server => server!;

    public async Task InitializeAsync() => server = await FakeWebHdfsServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    private IObjectSource CreateSource(string path = "/data", Dictionary<string, string>? extra = null)
    {
        var port = new Uri(Server.Endpoint).Port;
        var options = new Dictionary<string, string> { ["webhdfsPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["user.name"] = "fluid", ["retryDelaySeconds"] = "0.01" };
        foreach (var (key, value) in extra ?? [])
        {
            options[key] = value;
        }

        // hdfs:// carries the namenode RPC port (8020), which WebHDFS does not use: webhdfsPort is the HTTP port.
        return new SourceFactory(_ => null).Create(new DatasetConfig { Name = "hdfs-data", Source = $"hdfs://127.0.0.1:8020{path}", Options = options });
    }

    [Fact]
    public async Task ReadAsync_OffsetsThroughDatanodeRedirect_BytesEqual()
    {
        var content = RandomBytes(2 * 1024 * 1024 + 11, seed: 5);
        Server.Write("data/train/part-0001.parquet", content);
        await using var source = CreateSource();

        var obj = await source.HeadAsync("train/part-0001.parquet", CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal(content.Length, obj.Size);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, chunk: 512 * 1024 + 3)));
        Assert.Contains("OPEN", Server.Operations);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ListAsync_BatchedOrOneShot_PagesInKeyOrder(bool batchListing)
    {
        Server.SupportsBatchListing = batchListing;
        string[] keys = ["a.txt", "b/1.bin", "b/2.bin", "b/c/3.bin", "b-c.txt", "d.txt", "é.txt"];
        foreach (var key in keys)
        {
            Server.Write("data/" + key, [1, 2]);
        }

        Directory.CreateDirectory(Path.Join(Server.Root, "data/empty-dir"));
        await using var source = CreateSource();

        var flat = await ListAllAsync(source, "", null, 2);
        var rolled = await ListAllAsync(source, "", "/", 1);
        var inside = await ListAllAsync(source, "b/", "/", 1000);

        var expected = keys.ToList();
        expected.Sort(CompareUtf8);
        Assert.Equal(expected, flat.Keys);
        Assert.Equal(["a.txt", "b-c.txt", "d.txt", "é.txt"], rolled.Keys);
        Assert.Equal(["b/"], rolled.Prefixes);
        Assert.Equal(["b/1.bin", "b/2.bin"], inside.Keys);
        Assert.Equal(["b/c/"], inside.Prefixes);
        Assert.Equal(batchListing, Server.Operations.Contains("LISTSTATUS_BATCH") && !Server.Operations.Contains("LISTSTATUS"));
    }

    [Fact]
    public async Task ListAsync_RandomTree_SameAsLocalSourceOverSameFiles()
    {
        // The local source is checked against a naive S3 model (ListingPagerTests); the WebHDFS walk must agree with it.
        var random = new Random(21);
        string[] alphabet = ["a", "b", "-", "/", "/", "é", "\U0001F600"];
        foreach (var key in Enumerable.Range(0, 40).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 6)).Select(_ => alphabet[random.Next(alphabet.Length)]))).Where(k => !k.StartsWith('/') && !k.EndsWith('/') && !k.Contains("//", StringComparison.Ordinal)).Distinct())
        {
            try
            {
                Server.Write("data/" + key, [1]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file where a directory is needed: not representable in a file system.
            }
        }

        Server.BatchSize = 3;
        await using var source = CreateSource();
        var local = new LocalObjectSource(Path.Join(Server.Root, "data"));
        foreach (var (prefix, delimiter, maxKeys) in new (string, string?, int)[] { ("", null, 2), ("", "/", 1000), ("a/", "/", 2), ("b", null, 1000) })
        {
            var expected = await ListAllAsync(local, prefix, delimiter, maxKeys);
            var actual = await ListAllAsync(source, prefix, delimiter, maxKeys);
            Assert.Equal(expected.Keys, actual.Keys);
            Assert.Equal(expected.Prefixes, actual.Prefixes);
        }
    }

    [Fact]
    public async Task HeadAndRead_MissingFile_NullAndNotFound()
    {
        Server.Write("data/x.bin", [1]);
        await using var source = CreateSource();
        var obj = await source.HeadAsync("x.bin", CancellationToken.None);
        File.Delete(Path.Join(Server.Root, "data/x.bin"));

        Assert.Null(await source.HeadAsync("x.bin", CancellationToken.None));
        Assert.Null(await source.HeadAsync("../outside.bin", CancellationToken.None));
        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(obj!, 0, new byte[1], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task ReadAsync_FileRewritten_ThrowsRemoteObjectChanged()
    {
        Server.Write("data/model.bin", RandomBytes(1000, seed: 1));
        await using var source = CreateSource();
        var old = await source.HeadAsync("model.bin", CancellationToken.None);
        Server.Write("data/model.bin", RandomBytes(1000, seed: 2));

        await Assert.ThrowsAsync<RemoteObjectChangedException>(() => source.ReadAsync(old!, 0, new byte[10], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task HeadAsync_StandbyNamenodeThenActive_Retried()
    {
        Server.Write("data/x.bin", [1, 2, 3]);
        await using var source = CreateSource();
        Server.AnswerStandby(2);

        var obj = await source.HeadAsync("x.bin", CancellationToken.None);

        Assert.Equal(3, obj?.Size);
    }

    [Fact]
    public async Task HeadAsync_WrongUser_SourceUnavailableNamingTheRemoteException()
    {
        Server.Write("data/x.bin", [1]);
        await using var source = CreateSource(extra: new() { ["user.name"] = "intruder" });
        var before = Server.RequestCount;

        var error = await Assert.ThrowsAsync<SourceUnavailableException>(() => source.HeadAsync("x.bin", CancellationToken.None).AsTask());

        Assert.Contains("SecurityException", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Server.RequestCount - before);
    }

    [Theory]
    [InlineData("webhdfs://nn.example:50070/data", "nn.example:50070")]
    [InlineData("hdfs://nn.example:8020/data", "nn.example:9870")]
    [InlineData("hdfs://nn.example/data", "nn.example:9870")]
    public void Create_SchemesAndPorts_PickWebHdfsEndpoint(string uri, string expectedAuthority)
    {
        var source = new SourceFactory(_ => null).Create(new DatasetConfig { Name = "h", Source = uri });

        Assert.Equal($"hdfs://{expectedAuthority}/data/", source.Identity);
    }
}
