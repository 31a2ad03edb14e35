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
    public void AllocateExactThenLetGo_ExactLength_NeverPooled_CountedForTheTrimmer()
    {
        var ticksBefore = BlockBuffers.LastLargeRentTicks;
        var exact = BlockBuffers.AllocateExact(OddLargeLength);
        Assert.Equal(OddLargeLength, exact.Length);
        Assert.True(BlockBuffers.LastLargeRentTicks >= ticksBefore);

        var droppedBefore = BlockBuffers.DroppedBytes;
        BlockBuffers.LetGo(exact);
        Assert.True(BlockBuffers.DroppedBytes - droppedBefore >= OddLargeLength);

        // A pooled-size array let go of is not kept for reuse: a write that timed out may still be sending from it. The
        // pool is a stack, so had it kept this one, the next rent of the size would hand this very array out.
        var sent = BlockBuffers.Rent(OddLargeLength);
        BlockBuffers.LetGo(sent);
        var next = BlockBuffers.Rent(OddLargeLength);
        Assert.False(ReferenceEquals(sent, next));
        BlockBuffers.Return(next);
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
