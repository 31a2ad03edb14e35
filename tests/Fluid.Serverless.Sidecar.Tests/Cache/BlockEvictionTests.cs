using Fluid.Serverless.Sidecar.Cache;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>The quota and free-space policy over real block files in a temp directory.</summary>
public sealed class BlockEvictionTests : IDisposable
{
    private const int PayloadLength = 1000;
    private readonly TempDirectory _dir = new();
    private readonly BlockIndex _index = new();
    private readonly BlockFileStore _files;

    public BlockEvictionTests()
    {
        _files = new BlockFileStore(_dir.Path, _index, TimeProvider.System, NullLogger.Instance);
        _index.CompleteLoad();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TryReserve_OverQuota_EvictsLeastRecentlyUsedAndDeletesItsFile()
    {
        var eviction = NewEviction(quotaBlocks: 2);
        var a = Write(eviction, "a");
        var b = Write(eviction, "b");
        _index.TouchAndPin(a)!.Unpin(); // a is now more recent than b

        var c = Write(eviction, "c");

        Assert.False(File.Exists(_files.PathOf(b)));
        Assert.True(File.Exists(_files.PathOf(a)));
        Assert.True(File.Exists(_files.PathOf(c)));
        Assert.Equal(1, eviction.Evictions);
        Assert.Equal(2 * FileBytes(a), _index.UsedBytes);
    }

    [Fact]
    public void TryReserve_EverythingPinned_RefusesWithoutEvicting()
    {
        var eviction = NewEviction(quotaBlocks: 1);
        var a = Write(eviction, "a");
        _index.TouchAndPin(a);

        Assert.False(eviction.TryReserve(FileBytes(a), out var refusal));

        Assert.Contains("quota", refusal, StringComparison.Ordinal);
        Assert.True(File.Exists(_files.PathOf(a)));
        Assert.Equal(0, eviction.Evictions);
        Assert.Equal(FileBytes(a), _index.UsedBytes);
    }

    [Fact]
    public void TryReserve_FreeSpaceFloorUnreachableEvenByEvictingAll_RefusesKeepsTheBlocksAndReleasesTheReservation()
    {
        long available = long.MaxValue / 2;
        var eviction = NewEviction(quotaBlocks: 10, minFreeBytes: 1, () => available);
        var a = Write(eviction, "a");
        available = 0;

        Assert.False(eviction.TryReserve(FileBytes(a), out var refusal));

        // Evicting every block would not reach the floor, so none is evicted for nothing.
        Assert.Contains("free", refusal, StringComparison.Ordinal);
        Assert.True(File.Exists(_files.PathOf(a)));
        Assert.Equal(0, eviction.Evictions);
        Assert.Equal(FileBytes(a), _index.UsedBytes);
    }

    [Fact]
    public void TryReserve_FreeSpaceComesBackAfterEvicting_StopsEvictingThere()
    {
        var eviction = NewEviction(quotaBlocks: 100, minFreeBytes: 0, () => 10 * FileBytes(Key("x")) - BytesOnDisk());
        var keys = new[] { Write(eviction, "a"), Write(eviction, "b"), Write(eviction, "c"), Write(eviction, "d") };

        // 4 blocks on a disk that holds 10: room for 2 more means evicting exactly none; for 8 more, evicting 2.
        Assert.True(eviction.TryReserve(6 * FileBytes(keys[0]), out _));
        Assert.Equal(0, eviction.Evictions);
        eviction.Release(6 * FileBytes(keys[0]));

        Assert.True(eviction.TryReserve(8 * FileBytes(keys[0]), out _));
        Assert.Equal(2, eviction.Evictions);
        Assert.False(File.Exists(_files.PathOf(keys[0])));
        Assert.False(File.Exists(_files.PathOf(keys[1])));
        Assert.True(File.Exists(_files.PathOf(keys[2])));
    }

    [Fact]
    public void EnforceQuota_QuotaShrankSinceTheFilesWereWritten_EvictsDownToIt()
    {
        var large = NewEviction(quotaBlocks: 4);
        var keys = new[] { Write(large, "a"), Write(large, "b"), Write(large, "c") };

        var small = NewEviction(quotaBlocks: 1);
        small.EnforceQuota();

        Assert.Equal(2, small.Evictions);
        Assert.Equal(FileBytes(keys[2]), _index.UsedBytes);
        Assert.True(File.Exists(_files.PathOf(keys[2])));
        Assert.False(File.Exists(_files.PathOf(keys[0])));
    }

    private BlockEviction NewEviction(int quotaBlocks, long minFreeBytes = 0, Func<long>? availableFreeSpace = null) =>
        new(_index, _files, quotaBlocks * FileBytes(Key("x")), minFreeBytes, availableFreeSpace);

    private BlockKey Write(BlockEviction eviction, string objectKey)
    {
        var key = Key(objectKey);
        var payload = new byte[PayloadLength];
        Random.Shared.NextBytes(payload);
        Assert.True(eviction.TryReserve(FileBytes(key), out var refusal), refusal);
        Assert.True(_files.TryWrite(key, _files.PathOf(key), payload, FileBytes(key), out var error), error);
        return key;
    }

    private long BytesOnDisk() =>
        Directory.EnumerateFiles(_dir.Path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    private static BlockKey Key(string objectKey) => new("memory://test/", objectKey, "\"v1\"", 0);

    private static long FileBytes(BlockKey key) => BlockFileStore.FileBytes(key, PayloadLength);
}
