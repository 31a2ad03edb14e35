using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class BlockIndexTests
{
    private const string Source = "memory://test/";

    [Fact]
    public void TryReserve_OverQuota_EvictsLeastRecentlyUsedUnpinnedFirst()
    {
        var index = new BlockIndex();
        var a = Add(index, "a");
        var b = Add(index, "b");
        var c = Add(index, "c");
        index.TouchAndPin(a.Key)!.Unpin(); // a is now the most recently used: b is the oldest
        c.Pin();

        var victims = new List<BlockEntry>();
        Assert.True(index.TryReserve(100, quotaBytes: 300, victims));

        Assert.Same(b, Assert.Single(victims));
        Assert.False(index.Contains(b.Key));
        Assert.Equal(300, index.UsedBytes);
    }

    [Fact]
    public void TryReserve_OnlyPinnedLeft_RefusesAndRemovesNothing()
    {
        var index = new BlockIndex();
        Add(index, "a").Pin();
        var victims = new List<BlockEntry>();
        Assert.False(index.TryReserve(100, quotaBytes: 100, victims));
        Assert.Empty(victims);
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void AddScanned_ObjectInvalidatedWhileLoading_RefusedOthersAdded()
    {
        var index = new BlockIndex();
        index.RemoveObject(Source, "gone", []);

        Assert.Null(index.AddScanned(new BlockEntry(Key("gone", "\"v1\""), 100)));
        Assert.True(index.IsInvalidatedWhileLoading(Key("gone", "\"v2\"")));
        Assert.NotNull(index.AddScanned(new BlockEntry(Key("kept"), 100)));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void AddScanned_KeyAlreadyIndexed_ReturnsTheIndexedEntryEvenWhenInvalidatedEarlier()
    {
        // The object was invalidated, then its new version was written by this process: the scan finding that
        // same file must keep it.
        var index = new BlockIndex();
        index.RemoveObject(Source, "a", []);
        var written = Add(index, "a", "\"v2\"");

        Assert.Same(written, index.AddScanned(new BlockEntry(Key("a", "\"v2\""), 100)));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void AddReadBeforeLoad_AfterLoadCompleted_RefusedAndTombstonesForgotten()
    {
        var index = new BlockIndex();
        index.RemoveObject(Source, "a", []);
        index.CompleteLoad();

        Assert.False(index.IsInvalidatedWhileLoading(Key("a")));
        Assert.Null(index.AddReadBeforeLoad(new BlockEntry(Key("b"), 100)));
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void RemoveObject_RemovesEveryBlockOfThatObjectOnly()
    {
        var index = new BlockIndex();
        Add(index, "a", index: 0);
        Add(index, "a", index: 1);
        var other = Add(index, "ab");
        var removed = new List<BlockEntry>();

        index.RemoveObject(Source, "a", removed);

        Assert.Equal(2, removed.Count);
        Assert.Equal(1, index.Count);
        Assert.True(index.IsCurrent(other));
        Assert.Equal(100, index.UsedBytes);
    }

    private static BlockKey Key(string objectKey, string etag = "\"v1\"", long index = 0) => new(Source, objectKey, etag, index);

    private static BlockEntry Add(BlockIndex blocks, string objectKey, string etag = "\"v1\"", long index = 0)
    {
        var entry = new BlockEntry(Key(objectKey, etag, index), 100);
        Assert.True(blocks.TryReserve(100, long.MaxValue, []));
        blocks.AddReserved(entry);
        return entry;
    }
}
