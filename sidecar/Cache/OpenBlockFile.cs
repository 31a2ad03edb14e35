using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// A block file kept open after a verified read, with its header (key fields and chunk CRCs) already checked, so
/// that the next hit on the block is one <c>pread</c> and a CRC per chunk: no open, <c>fstat</c>, header read or
/// close. It belongs to one <see cref="BlockEntry"/>, that is to one file (inode): a fill that renames a new file
/// over the name makes a new entry, and removing an entry from the index closes its open file.
/// <para>
/// Closing is safe while a read runs: the handle is reference-counted around each system call, so the descriptor
/// stays valid until that call returns, and a read that starts after the close throws
/// <see cref="ObjectDisposedException"/>, which the caller answers by opening the file by its path.
/// </para>
/// </summary>
internal sealed class OpenBlockFile(SafeFileHandle handle, VerifiedBlockHeader header) : IDisposable
{
    private volatile bool _recentlyUsed;

    public SafeFileHandle Handle { get; } = handle;

    public VerifiedBlockHeader Header { get; } = header;

    /// <summary>Set by every hit, cleared by <see cref="OpenBlockFiles"/>'s clock: a file read since its last pass stays open.</summary>
    public bool RecentlyUsed
    {
        get => _recentlyUsed;
        set => _recentlyUsed = value;
    }

    /// <summary>
    /// Reads bytes [<paramref name="offset"/>, +destination length) of the payload, checking the CRC of every chunk
    /// read. A file damaged on disk since it was opened (overwritten or truncated in place) is Corrupt.
    /// </summary>
    public BlockFileRead Read(int offset, Span<byte> destination, out string reason) =>
        BlockFileReader.ReadChunks(Handle, Header, offset, destination, out reason);

    public void Dispose() => Handle.Dispose();
}

/// <summary>An intact header of a block file: what a read of its payload checks against.</summary>
internal sealed class VerifiedBlockHeader(byte[] bytes, int payloadLength, int chunkSize)
{
    /// <summary>The whole header, exactly <c>HeaderSize</c> bytes.</summary>
    public byte[] Bytes { get; } = bytes;

    public int HeaderSize => Bytes.Length;

    public int PayloadLength { get; } = payloadLength;

    public int ChunkSize { get; } = chunkSize;
}
