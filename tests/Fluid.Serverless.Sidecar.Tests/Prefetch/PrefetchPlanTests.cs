using System.Text;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public sealed class PrefetchPlanTests : IDisposable
{
    private readonly TempDataset _data = new();
    private readonly CountingObjectSource _source;

    public PrefetchPlanTests()
    {
        foreach (var key in new[] { "train/a.jpg", "train/b.png", "train/x/c.jpg", "train/x/y/d.jpg", "val/e.jpg", "readme.txt", "trainer.txt" })
        {
            _data.Write(key, 10);
        }

        _source = new CountingObjectSource(new LocalObjectSource(_data.Root));
    }

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Enumerate_Glob_ListsOnlyUnderLiteralPrefixAndMatches()
    {
        var items = await ExpandAsync("train/**/*.jpg");

        Assert.Equal(["train/a.jpg", "train/x/c.jpg", "train/x/y/d.jpg"], items.Select(i => i.Key));
        Assert.All(items, i => Assert.NotNull(i.Object));
        Assert.Equal(["train/"], _source.ListPrefixes);
    }

    [Fact]
    public async Task Enumerate_Prefix_GivesEveryObjectUnderItInKeyOrder()
    {
        var items = await ExpandAsync("train/x/");
        Assert.Equal(["train/x/c.jpg", "train/x/y/d.jpg"], items.Select(i => i.Key));
    }

    [Fact]
    public async Task Enumerate_KeyThatIsAFile_GivesTheFileOnlyWithoutListing()
    {
        var items = await ExpandAsync("readme.txt");
        Assert.Equal(["readme.txt"], items.Select(i => i.Key));
        Assert.Equal(0, _source.Lists);
    }

    [Fact]
    public async Task Enumerate_KeyThatIsADirectory_ListsItAsPrefixWithSlash()
    {
        // "train" must not pick up "trainer.txt": the fallback lists "train/", not "train".
        var items = await ExpandAsync("train");
        Assert.Equal(["train/a.jpg", "train/b.png", "train/x/c.jpg", "train/x/y/d.jpg"], items.Select(i => i.Key));
    }

    [Fact]
    public async Task Enumerate_Manifest_KeepsLineOrderSkipsCommentsAndDuplicates()
    {
        _data.Write("lists/epoch.txt", Encoding.UTF8.GetBytes("# epoch 1\r\nval/e.jpg\r\n\r\n/train/x/c.jpg\ntrain/a.jpg\nval/e.jpg\n  readme.txt  "));

        var items = await ExpandAsync("@lists/epoch.txt");

        Assert.Equal(["val/e.jpg", "train/x/c.jpg", "train/a.jpg", "readme.txt"], items.Select(i => i.Key));
        Assert.All(items, i => Assert.Null(i.Object)); // workers HEAD them; the plan stays cheap
        Assert.Equal(0, _source.Lists);
    }

    [Fact]
    public async Task Enumerate_ManifestLargerThanOneChunk_GivesEveryLineInOrder()
    {
        var keys = Enumerable.Range(0, 20_000).Select(i => $"shard-{i:D6}/sample.bin").ToList();
        _data.Write("big-manifest.txt", Encoding.UTF8.GetBytes(string.Join('\n', keys) + "\n"));

        var items = await ExpandAsync("@big-manifest.txt");

        Assert.Equal(keys, items.Select(i => i.Key));
    }

    [Fact]
    public async Task Enumerate_ManifestLineLongerThanAKey_ReportedByLineNumber()
    {
        _data.Write("m.txt", Encoding.UTF8.GetBytes("readme.txt\n" + new string('k', 2000) + "\nval/e.jpg\n"));

        var items = await ExpandAsync("@m.txt");

        Assert.Equal(3, items.Count);
        Assert.Equal("m.txt:2", items[1].Key);
        Assert.Contains("line 2", items[1].Error, StringComparison.Ordinal);
        Assert.Equal("val/e.jpg", items[2].Key);
    }

    [Fact]
    public async Task Enumerate_SeveralEntries_KeepsEntryOrderAndDropsRepeats()
    {
        var items = await ExpandAsync("val/", "train/**/*.jpg", "train/a.jpg", "readme.txt");
        Assert.Equal(["val/e.jpg", "train/a.jpg", "train/x/c.jpg", "train/x/y/d.jpg", "readme.txt"], items.Select(i => i.Key));
    }

    [Theory]
    [InlineData("missing/", "no object or prefix 'missing/'")]
    [InlineData("missing", "no object or prefix 'missing'")]
    [InlineData("train/**/*.gif", "glob 'train/**/*.gif' matched no object")]
    [InlineData("@nope.txt", "manifest 'nope.txt' does not exist")]
    public async Task Enumerate_EntryThatResolvesToNothing_ReportedAsErrorItem(string entry, string error)
    {
        var items = await ExpandAsync(entry);
        var item = Assert.Single(items);
        Assert.StartsWith(error, item.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enumerate_MoreThanOnePage_FollowsContinuation()
    {
        for (var i = 0; i < PrefetchPlan.ListPageSize + 5; i++)
        {
            _data.Write($"many/{i:D5}", 1);
        }

        var items = await ExpandAsync("many/");

        Assert.Equal(PrefetchPlan.ListPageSize + 5, items.Count);
        Assert.Equal(2, _source.Lists);
    }

    private async Task<List<PrefetchItem>> ExpandAsync(params string[] entries)
    {
        Assert.True(PrefetchEntry.TryParseAll(entries, out var parsed, out var error), error);
        var items = new List<PrefetchItem>();
        await foreach (var item in new PrefetchPlan(parsed).EnumerateAsync(_source, CancellationToken.None))
        {
            items.Add(item);
        }

        return items;
    }
}
