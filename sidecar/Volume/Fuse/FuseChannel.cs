using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// Writes replies to the /dev/fuse descriptor. Each reply is one writev (header + up to two payload parts), which
/// the kernel requires: a reply must arrive in a single write. Safe to call from any thread.
/// </summary>
internal sealed unsafe class FuseChannel(int fd)
{
    public int Descriptor => fd;

    public int ReplyError(ulong unique, int errno) => Send(unique, -errno, default, default);

    public int ReplyEmpty(ulong unique) => Send(unique, 0, default, default);

    public int Reply<T>(ulong unique, in T payload) where T : unmanaged =>
        Send(unique, 0, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in payload)), default);

    public int Reply(ulong unique, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second = default) =>
        Send(unique, 0, first, second);

    /// <summary>Returns 0, or the errno of a failed write (ENOENT: the request was interrupted; nobody waits).</summary>
    private int Send(ulong unique, int error, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var header = new FuseOutHeader
        {
            Length = (uint)(sizeof(FuseOutHeader) + first.Length + second.Length),
            Error = error,
            Unique = unique,
        };
        var vectors = stackalloc LibC.IoVector[3];
        fixed (byte* firstPointer = first)
        fixed (byte* secondPointer = second)
        {
            vectors[0] = new LibC.IoVector { Base = Unsafe.AsPointer(ref header), Length = (nuint)sizeof(FuseOutHeader) };
            var count = 1;
            if (!first.IsEmpty)
            {
                vectors[count++] = new LibC.IoVector { Base = firstPointer, Length = (nuint)first.Length };
            }
            if (!second.IsEmpty)
            {
                vectors[count++] = new LibC.IoVector { Base = secondPointer, Length = (nuint)second.Length };
            }
            return LibC.WriteVector(fd, vectors, count) < 0 ? LibC.LastError : 0;
        }
    }
}
