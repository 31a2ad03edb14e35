using System.Runtime.InteropServices;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

// The request structs of the modifying opcodes, from the kernel's include/uapi/linux/fuse.h (protocol 7.x).

internal static class FuseWriteConstants
{
    /// <summary>INIT flag: OPEN carries O_TRUNC instead of the kernel sending SETATTR(size 0) after it.</summary>
    public const uint AtomicOTrunc = 1u << 3;

    public const uint OpenTruncate = 0x200; // O_TRUNC
    public const uint OpenExclusive = 0x80; // O_EXCL

    public const uint SetAttrMode = 1u << 0;
    public const uint SetAttrSize = 1u << 3;
    public const uint SetAttrFileHandle = 1u << 6;

    public const uint RenameNoReplace = 1u << 0;

    public const uint ModeTypeMask = 0xF000; // S_IFMT

    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int ENOTEMPTY = 39;
    public const int ENOTSUP = 95;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteIn
{
    public ulong FileHandle;
    public ulong Offset;
    public uint Size;
    public uint WriteFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteOut
{
    public uint Size;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseCreateIn
{
    public uint Flags;
    public uint Mode;
    public uint Umask;
    public uint OpenFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkDirIn
{
    public uint Mode;
    public uint Umask;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseRenameIn
{
    public ulong NewDirectory;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseRename2In
{
    public ulong NewDirectory;
    public uint Flags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseFlushIn
{
    public ulong FileHandle;
    public uint Unused;
    public uint Padding;
    public ulong LockOwner;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseFSyncIn
{
    public ulong FileHandle;
    public uint FSyncFlags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetAttrIn
{
    public uint Valid;
    public uint Padding;
    public ulong FileHandle;
    public ulong Size;
    public ulong LockOwner;
    public ulong ATime;
    public ulong MTime;
    public ulong CTime;
    public uint ATimeNsec;
    public uint MTimeNsec;
    public uint CTimeNsec;
    public uint Mode;
    public uint Unused4;
    public uint Uid;
    public uint Gid;
    public uint Unused5;
}
