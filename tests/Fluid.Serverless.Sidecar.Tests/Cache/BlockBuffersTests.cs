using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class BlockBuffersTests
{
    // A size no other test uses for blocks: the pool is process-wide and tests run in parallel.
    private const int OddLargeLength = (9 * 1024 * 1024) + 1;
    private const int PooledLength = 16 * 1024 * 1024;

    [Fact]
    public void Rent_Large_PowerOfTwoLengthAtLeastAsked()
    {
        var array = BlockBuffers.Rent(OddLargeLength);
        Assert.Equal(PooledLength, array.Length);
        BlockBuffers.Return(array);
    }

    [Fact]
    public void Return_MoreLargeArraysThanRetained_KeepsAFewAndDropsTheRest()
    {
        var arrays = Enumerable.Range(0, BlockBuffers.RetainedPerSize + 2).Select(_ => BlockBuffers.Rent(OddLargeLength)).ToList();
        var droppedBefore = BlockBuffers.DroppedBytes;
        foreach (var array in arrays)
        {
            BlockBuffers.Return(array);
        }

        // At least the two beyond the retained ones were let go (other tests may drop arrays of other sizes too).
        Assert.True(BlockBuffers.DroppedBytes - droppedBefore >= 2L * PooledLength);

        // A retained one comes back on the next rent of that size.
        var again = BlockBuffers.Rent(OddLargeLength);
        Assert.Contains(arrays, a => ReferenceEquals(a, again));
        BlockBuffers.Return(again);
    }

    [Fact]
    public void RentReturn_SmallArrays_GoThroughTheSharedPool()
    {
        var droppedBefore = BlockBuffers.DroppedBytes;
        var small = BlockBuffers.Rent(64 * 1024);
        Assert.Equal(64 * 1024, small.Length);
        BlockBuffers.Return(small);

        // An array from the shared pool is accepted too (either pool takes the other's arrays).
        BlockBuffers.Return(System.Buffers.ArrayPool<byte>.Shared.Rent(100_000));
        Assert.True(BlockBuffers.DroppedBytes >= droppedBefore);
    }
}
