using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// What identifies one version of a local file: size, modification time (nanoseconds) and inode. The inode matters
/// because tools such as rsync and `cp -p` replace files keeping size and mtime; only the inode tells them apart.
/// Read with statx(2), whose structure layout is fixed across architectures (unlike struct stat), so the P/Invoke is
/// safe on x64 and arm64 and Native-AOT clean.
/// </summary>
internal readonly partial record struct FileStatus(long Size, long ModifiedSeconds, uint ModifiedNanoseconds, ulong Inode, bool IsRegularFile, bool IsDirectory)
{
    public DateTimeOffset LastModified => DateTimeOffset.FromUnixTimeSeconds(ModifiedSeconds).AddTicks(ModifiedNanoseconds / 100);

    /// <summary>The ETag: a quoted 64-bit hash of (size, mtime, inode). Deliberately not 32 hex digits, so clients that
    /// take a 32-digit ETag for the MD5 of the content (rclone, s3cmd) do not check the bytes against it.</summary>
    public string ETag
    {
        get
        {
            Span<byte> identity = stackalloc byte[28];
            BinaryPrimitives.WriteInt64LittleEndian(identity, Size);
            BinaryPrimitives.WriteInt64LittleEndian(identity[8..], ModifiedSeconds);
            BinaryPrimitives.WriteUInt32LittleEndian(identity[16..], ModifiedNanoseconds);
            BinaryPrimitives.WriteUInt64LittleEndian(identity[20..], Inode);
            return $"\"{XxHash64.HashToUInt64(identity):x16}\"";
        }
    }

    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int StatxBufferSize = 256;
    private const ushort FileTypeMask = 0xF000;
    private const ushort RegularFile = 0x8000;
    private const ushort Directory = 0x4000;

    /// <summary>Status of the file at <paramref name="path"/> following symlinks; null when it does not exist.</summary>
    public static FileStatus? OfPath(string path) => Query(AtFdCwd, path, 0);

    /// <summary>Status of the symlink itself at <paramref name="path"/>; null when nothing is there.</summary>
    public static FileStatus? OfPathNoFollow(string path) => Query(AtFdCwd, path, AtSymlinkNoFollow);

    /// <summary>Status of an open file (what a read through this handle actually sees).</summary>
    public static FileStatus OfHandle(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return Query((int)handle.DangerousGetHandle(), "", AtEmptyPath)
                ?? throw new IOException("statx on an open file handle reported no file");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static unsafe FileStatus? Query(int directoryFd, string path, int flags)
    {
        byte* buffer = stackalloc byte[StatxBufferSize];
        if (Statx(directoryFd, path, flags, StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // ENOENT, ENOTDIR: nothing there. Anything else (EACCES, EIO on NFS) is a real failure.
            if (errno is 2 or 20)
            {
                return null;
            }

            throw new IOException($"statx('{path}') failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        var span = new ReadOnlySpan<byte>(buffer, StatxBufferSize);
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(span[28..]);
        return new FileStatus(
            Size: BinaryPrimitives.ReadInt64LittleEndian(span[40..]),
            ModifiedSeconds: BinaryPrimitives.ReadInt64LittleEndian(span[112..]),
            ModifiedNanoseconds: BinaryPrimitives.ReadUInt32LittleEndian(span[120..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(span[32..]),
            IsRegularFile: (mode & FileTypeMask) == RegularFile,
            IsDirectory: (mode & FileTypeMask) == Directory);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);
}
