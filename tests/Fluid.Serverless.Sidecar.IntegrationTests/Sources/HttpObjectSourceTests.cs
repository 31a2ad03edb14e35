using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

[Collection(NginxCollection.Name)]
public sealed class HttpObjectSourceTests(NginxFixture nginx)
{
    private static int datasetCounter;

    /// <summary>A fresh directory on the origin per test, and a source over it.</summary>
    private (string Directory, IObjectSource Source) NewDataset(Dictionary<string, string>? options = null)
    {
        var directory = $"ds{Interlocked.Increment(ref datasetCounter)}-{Guid.NewGuid():N}";
        var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "web",
            Source = nginx.BaseUrl + directory + "/",
            Options = options ?? new Dictionary<string, string> { ["listing"] = "index.txt" },
        });
        return (directory, source);
    }

    [Fact]
    public async Task ReadAsync_ChunkedFile_BytesEqualAndStrongETag()
    {
        var (directory, source) = NewDataset();
        var content = RandomBytes(5 * 1024 * 1024 + 3, seed: 11);
        nginx.Write($"{directory}/models/file with space+é.bin", content);

        var obj = await source.HeadAsync("models/file with space+é.bin", CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal(content.Length, obj.Size);
        Assert.DoesNotContain("h-", obj.ETag, StringComparison.Ordinal);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, chunk: 1024 * 1024 + 7)));
    }

    [Fact]
    public async Task ListAsync_ListingFile_PagesWithDelimiterAndDropsMissingEntries()
    {
        var (directory, source) = NewDataset();
        foreach (var key in new[] { "a.txt", "photos/1.jpg", "photos/2.jpg", "z.txt" })
        {
            nginx.Write($"{directory}/{key}", [1, 2, 3]);
        }

        nginx.Write($"{directory}/index.txt", "# objects\nz.txt\t3\nphotos/2.jpg\nphotos/1.jpg\t3\na.txt\nmissing.txt\t9\n\n"u8.ToArray());

        var root = await ListAllAsync(source, "", "/", 1);
        var flat = await source.ListAsync(new ListRequest("", null, null, 1000), CancellationToken.None);

        Assert.Equal(["a.txt", "z.txt"], root.Keys);
        Assert.Equal(["photos/"], root.Prefixes);
        Assert.Equal(["a.txt", "photos/1.jpg", "photos/2.jpg", "z.txt"], flat.Objects.Select(o => o.Key));
        Assert.All(flat.Objects, o => Assert.Equal(3, o.Size));
    }

    [Fact]
    public async Task ListAsync_InlineFilesOption_ListsThem()
    {
        var (directory, source) = NewDataset(new Dictionary<string, string> { ["files"] = "b.bin, a.bin" });
        NewDatasetFiles(directory, "a.bin", "b.bin");

        var page = await source.ListAsync(new ListRequest("", null, null, 1000), CancellationToken.None);

        Assert.Equal(["a.bin", "b.bin"], page.Objects.Select(o => o.Key));
    }

    [Fact]
    public async Task ReadAsync_FileChangedAtOrigin_ThrowsRemoteObjectChanged()
    {
        var (directory, source) = NewDataset();
        nginx.Write($"{directory}/data.bin", RandomBytes(1000, seed: 1));
        var old = await source.HeadAsync("data.bin", CancellationToken.None);
        nginx.Write($"{directory}/data.bin", RandomBytes(2000, seed: 2));

        await Assert.ThrowsAsync<RemoteObjectChangedException>(() => source.ReadAsync(old!, 10, new byte[10], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task HeadAndRead_MissingOrTraversalKey_NullAndNotFound()
    {
        var (directory, source) = NewDataset();
        nginx.Write($"{directory}-secret.txt", "secret"u8.ToArray());

        Assert.Null(await source.HeadAsync("missing.bin", CancellationToken.None));
        Assert.Null(await source.HeadAsync($"../{directory}-secret.txt", CancellationToken.None));
        var forged = new RemoteObject("missing.bin", 10, "\"x\"", DateTimeOffset.UnixEpoch);
        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(forged, 0, new byte[10], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task ListAsync_ListingLineWithTraversal_FailsNamingTheLine()
    {
        var (directory, source) = NewDataset();
        nginx.Write($"{directory}/index.txt", "ok.txt\n../../etc/passwd\n"u8.ToArray());

        var error = await Assert.ThrowsAsync<SourceUnavailableException>(() => source.ListAsync(new ListRequest("", null, null, 10), CancellationToken.None).AsTask());

        Assert.Contains("listing file 'index.txt' line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_ListingAndFilesBothSet_ThrowsNamingBoth()
    {
        var error = Assert.Throws<ArgumentException>(() => NewDataset(new Dictionary<string, string> { ["listing"] = "index.txt", ["files"] = "a" }));

        Assert.Contains("'listing' and 'files'", error.Message, StringComparison.Ordinal);
    }

    private void NewDatasetFiles(string directory, params string[] keys)
    {
        foreach (var key in keys)
        {
            nginx.Write($"{directory}/{key}", [9]);
        }
    }
}
