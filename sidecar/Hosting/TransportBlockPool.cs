using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// The memory Kestrel's socket transport receives into and sends from: pinned blocks of <see cref="BlockSize"/>
/// bytes, where Kestrel's own pool has 4 KiB blocks.
/// <para>
/// Why: the transport receives into one pool block per <c>recv</c>, after a zero-byte <c>recv</c> that waits for
/// data. With 4 KiB blocks an upload of 256 MiB costs 131,000 receive system calls, and on a virtual machine a system
/// call is what costs (bench/writes/README.md has the count and the CPU). A 64 KiB block takes what one loopback
/// segment carries, sixteen times fewer calls for the same bytes.
/// </para>
/// <para>
/// Memory: a connection holds a block only while bytes are in flight; an idle keep-alive connection holds none, since
/// the transport waits for data before it takes a block. Blocks given back are kept for reuse up to
/// <see cref="RetainedBlocks"/>; beyond that they are let go to the collector, so a burst of connections leaves at
/// most <see cref="RetainedBlocks"/> × <see cref="BlockSize"/> behind.
/// </para>
/// </summary>
internal sealed class TransportBlockPool : MemoryPool<byte>
{
    /// <summary>One loopback TCP segment's worth (64 KiB): a receive of an upload's body fills it in one call.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse: 4 MiB, enough for the blocks a few dozen busy connections cycle through.</summary>
    public const int RetainedBlocks = 64;

    private readonly ConcurrentBag<Block> _free = [];
    private int _freeCount;
    private long _allocated;
    private bool _disposed;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks allocated since the pool was created (reused ones are not counted again).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"expected at most {BlockSize} bytes, this pool's block size");
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryTake(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Rented = true;
            return block;
        }

        Interlocked.Increment(ref _allocated);
        return new Block(this) { Rented = true };
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
        Interlocked.Exchange(ref _freeCount, 0);
    }

    private void Return(Block block)
    {
        if (_disposed)
        {
            return;
        }

        // Count first, so that two returns at once cannot both take the last free place.
        if (Interlocked.Increment(ref _freeCount) > RetainedBlocks)
        {
            Interlocked.Decrement(ref _freeCount);
            return;
        }

        _free.Add(block);
    }

    /// <summary>A block and its owner in one object, reused with it, so a rent allocates nothing once warm.</summary>
    private sealed class Block(TransportBlockPool pool) : IMemoryOwner<byte>
    {
        // On the pinned heap, and made known as pinned: the socket layer pins every buffer it is handed, and pinning
        // such memory is free, where a movable array would take a GC handle per send and receive.
        public Memory<byte> Memory { get; } = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);

        public bool Rented { get; set; }

        public void Dispose()
        {
            // Pipes dispose a segment's owner once; a second dispose must not put the block in the pool twice.
            if (Rented)
            {
                Rented = false;
                pool.Return(this);
            }
        }
    }

    /// <summary>
    /// Registered in place of Kestrel's own factory, which the socket transport takes from the services; it creates a
    /// pool per listener and disposes it with the listener.
    /// </summary>
    internal sealed class Factory : IMemoryPoolFactory<byte>
    {
        private readonly ConcurrentQueue<TransportBlockPool> _created = new();

        /// <summary>The pools handed out, one per listener (what shows that Kestrel took this factory).</summary>
        public IReadOnlyCollection<TransportBlockPool> Created => _created;

        public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
        {
            var pool = new TransportBlockPool();
            _created.Enqueue(pool);
            return pool;
        }
    }
}
