using System.Buffers;
using System.Numerics;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Where block-sized buffers (MiBs each: fetched blocks, whole-block reads) come from. Small buffers go to
/// <see cref="ArrayPool{T}.Shared"/>; large ones are kept only a few per size and the rest are dropped.
/// <para>
/// Why not the shared pool for everything: it keeps up to 32 arrays per size per core for the life of the process,
/// so the block buffers one cold GET holds in flight would stay resident for ever (see bench/footprint/README.md).
/// Allocating a block buffer is cheap next to fetching 4 MiB from a remote, so a cold burst allocates and then lets
/// go; <see cref="DroppedBytes"/> tells the host's <c>MemoryTrimmer</c> when a collection would hand that memory back.
/// </para>
/// Arrays have power-of-two lengths like the shared pool's, so either pool accepts the other's arrays.
/// </summary>
internal static class BlockBuffers
{
    /// <summary>From this size on a buffer is a block buffer (the shared pool keeps smaller ones: ranges, pieces).</summary>
    public const int LargeThreshold = 1024 * 1024;

    /// <summary>Large buffers kept per size: enough for a warm sequential reader and a fill without allocating.</summary>
    public const int RetainedPerSize = 4;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<int, Stack<byte[]>> Retained = [];
    private static long _droppedBytes;
    private static long _lastLargeRentTicks;

    /// <summary>Bytes of large buffers let go (for the GC to reclaim) since the process started.</summary>
    public static long DroppedBytes => Interlocked.Read(ref _droppedBytes);

    /// <summary><see cref="Environment.TickCount64"/> of the last large rent: a burst is over when this is old.</summary>
    public static long LastLargeRentTicks => Interlocked.Read(ref _lastLargeRentTicks);

    public static byte[] Rent(int minimumLength)
    {
        if (minimumLength < LargeThreshold)
        {
            return ArrayPool<byte>.Shared.Rent(minimumLength);
        }

        var length = (int)BitOperations.RoundUpToPowerOf2((uint)minimumLength);
        Interlocked.Exchange(ref _lastLargeRentTicks, Environment.TickCount64);
        lock (Gate)
        {
            if (Retained.TryGetValue(length, out var stack) && stack.TryPop(out var array))
            {
                return array;
            }
        }

        // Not zeroed: every user writes the bytes it reads back (as with the shared pool's arrays).
        return GC.AllocateUninitializedArray<byte>(length);
    }

    /// <summary>
    /// A buffer of exactly <paramref name="length"/> bytes that is never pooled (a tier value: a block plus its header,
    /// which a power-of-two pool would round up to twice its size). Counted as a large rent, so that a burst of them
    /// keeps the trimmer waiting; give it back with <see cref="LetGo"/>.
    /// </summary>
    public static byte[] AllocateExact(int length)
    {
        if (length >= LargeThreshold)
        {
            Interlocked.Exchange(ref _lastLargeRentTicks, Environment.TickCount64);
        }

        return GC.AllocateUninitializedArray<byte>(length);
    }

    /// <summary>
    /// Tells the trimmer that <paramref name="array"/> is garbage now or soon (its last user may still hold it, as a
    /// client whose call timed out may), without keeping it for reuse.
    /// </summary>
    public static void LetGo(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length >= LargeThreshold)
        {
            Interlocked.Add(ref _droppedBytes, array.Length);
        }
    }

    public static void Return(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length < LargeThreshold)
        {
            ArrayPool<byte>.Shared.Return(array);
            return;
        }

        if (BitOperations.IsPow2(array.Length))
        {
            lock (Gate)
            {
                if (!Retained.TryGetValue(array.Length, out var stack))
                {
                    stack = new Stack<byte[]>(RetainedPerSize);
                    Retained.Add(array.Length, stack);
                }

                if (stack.Count < RetainedPerSize)
                {
                    stack.Push(array);
                    return;
                }
            }
        }

        Interlocked.Add(ref _droppedBytes, array.Length);
    }
}
