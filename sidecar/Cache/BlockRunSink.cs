using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Carves the body of one ranged GET over a run of adjacent missing blocks into those blocks: each block's flight
/// gets its buffer when the body reaches it, and is handed back to the cache (CRC'd, stored, waiters released) the
/// moment its last byte arrives. A run therefore holds one block buffer at a time, and a reader waiting on the
/// run's first block is released after one block, not after the whole run.
/// </summary>
internal sealed class BlockRunSink : RangeSink
{
    private readonly IReadOnlyList<RunBlock> _blocks;
    private readonly int _blockSize;
    private readonly Action<RunBlock, Memory<byte>> _completeBlock;
    private readonly Action<RunBlock, Exception> _failBlock;
    private readonly long _totalBytes;
    private long _doneBytes;
    private int _current;
    private int _filled;
    private Memory<byte> _payload;

    public BlockRunSink(IReadOnlyList<RunBlock> blocks, int blockSize, Action<RunBlock, Memory<byte>> completeBlock, Action<RunBlock, Exception> failBlock)
    {
        _blocks = blocks;
        _blockSize = blockSize;
        _completeBlock = completeBlock;
        _failBlock = failBlock;
        foreach (var block in blocks)
        {
            _totalBytes += block.Flight.Length;
        }
    }

    /// <summary>Blocks completed so far (they are stored and released).</summary>
    public int CompletedBlocks => _current;

    public override long Offset => (_blocks[0].Key.Index * (long)_blockSize) + _doneBytes;

    public override long Remaining => _totalBytes - _doneBytes;

    public override Memory<byte> GetBuffer()
    {
        if (_current >= _blocks.Count)
        {
            return Memory<byte>.Empty;
        }

        if (_payload.IsEmpty)
        {
            _payload = _blocks[_current].Flight.AllocatePayload();
        }

        return _payload[_filled..];
    }

    public override void Advance(int count)
    {
        if (count < 0 || count > _payload.Length - _filled)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the current block has {_payload.Length - _filled} bytes left");
        }

        _filled += count;
        _doneBytes += count;
        if (_filled == _payload.Length)
        {
            var block = _blocks[_current];
            var payload = _payload;
            _current++;
            _filled = 0;
            _payload = Memory<byte>.Empty;
            _completeBlock(block, payload);
        }
    }

    /// <summary>Fails every block not completed yet (their readers fall back or see the error). Idempotent.</summary>
    public void FailRest(Exception error)
    {
        while (_current < _blocks.Count)
        {
            var block = _blocks[_current++];
            _doneBytes += block.Flight.Length - _filled;
            _filled = 0;
            _payload = Memory<byte>.Empty;
            _failBlock(block, error);
        }
    }
}

/// <summary>
/// One block of a run: its key, file path and the flight its readers join; for a run read in order, where the block's
/// lease goes when its bytes are handed over (null when it is stored instead).
/// </summary>
internal sealed record RunBlock(BlockKey Key, string Path, BlockFlight Flight, TaskCompletionSource<BlockLease?>? Handed = null);

/// <summary>A <see cref="RangeSink"/> over one buffer (a single block fetched through a run-style source call).</summary>
internal sealed class MemoryRangeSink(long offset, Memory<byte> destination) : RangeSink
{
    private int _filled;

    public override long Offset => offset + _filled;

    public override long Remaining => destination.Length - _filled;

    public override Memory<byte> GetBuffer() => destination[_filled..];

    public override void Advance(int count)
    {
        if (count < 0 || count > destination.Length - _filled)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the buffer has {destination.Length - _filled} bytes left");
        }

        _filled += count;
    }
}
