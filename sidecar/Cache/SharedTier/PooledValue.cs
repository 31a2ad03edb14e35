using System.Buffers;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>A value read into a pooled array: exactly <see cref="Memory"/>'s length, returned to the pool on dispose.</summary>
internal sealed class PooledValue : IMemoryOwner<byte>
{
    private byte[]? array;
    private readonly int length;

    public PooledValue(int length)
    {
        array = ArrayPool<byte>.Shared.Rent(length);
        this.length = length;
    }

    public byte[] Array => array ?? throw new ObjectDisposedException(nameof(PooledValue));

    public int Length { get; set; }

    public Memory<byte> Memory => Array.AsMemory(0, Math.Min(Length, length));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref array, null) is { } rented)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
