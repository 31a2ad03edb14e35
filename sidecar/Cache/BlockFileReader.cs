using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>What reading a block file found.</summary>
internal enum BlockFileRead
{
    Read,
    Missing,
    Corrupt,
}

/// <summary>
/// Verified reads of one open block file: the header, the key fields and the CRC of every chunk read are checked
/// before a byte is handed out. Pure functions of the file's bytes: no index, no deletion, no logging.
/// </summary>
internal static class BlockFileReader
{
    /// <summary>Bytes read at once for a header: covers the fixed part, the key fields and the chunk CRC table.</summary>
    private const int HeaderProbeSize = 4096;

    /// <summary>
    /// Reads and checks the header of the block of <paramref name="key"/> whose payload is <paramref name="blockLength"/>
    /// bytes: its length against the file's, its own CRC, the key fields. <paramref name="reason"/> says what was wrong
    /// when it is corrupt. An intact file of another key (a hash collision) is <see cref="BlockFileRead.Missing"/>.
    /// </summary>
    public static BlockFileRead ReadHeader(SafeFileHandle handle, BlockKey key, int blockLength, out VerifiedBlockHeader? verified, out string reason)
    {
        verified = null;
        var fileLength = RandomAccess.GetLength(handle);
        var probe = ArrayPool<byte>.Shared.Rent(HeaderProbeSize);
        try
        {
            var got = ReadFully(handle, probe.AsSpan(0, (int)Math.Min(HeaderProbeSize, fileLength)), 0);
            if (!BlockFileFormat.TryReadFixedHeader(probe.AsSpan(0, got), out var headerSize, out var payloadLength, out var chunkSize))
            {
                reason = "bad header";
                return BlockFileRead.Corrupt;
            }

            if (fileLength != headerSize + (long)payloadLength)
            {
                reason = $"file is {fileLength} bytes, header says {headerSize + (long)payloadLength}";
                return BlockFileRead.Corrupt;
            }

            var header = new byte[headerSize];
            if (headerSize <= got)
            {
                probe.AsSpan(0, headerSize).CopyTo(header);
            }
            else if (ReadFully(handle, header, 0) != headerSize)
            {
                reason = "short header";
                return BlockFileRead.Corrupt;
            }

            if (!BlockFileFormat.IsHeaderIntact(header))
            {
                reason = "header CRC mismatch";
                return BlockFileRead.Corrupt;
            }

            if (!BlockFileFormat.KeyMatches(header, key))
            {
                // An intact file of another key under this name (a hash collision): a miss; the fill overwrites it.
                reason = "";
                return BlockFileRead.Missing;
            }

            if (payloadLength != blockLength)
            {
                reason = $"payload is {payloadLength} bytes, the object's block is {blockLength}";
                return BlockFileRead.Corrupt;
            }

            verified = new VerifiedBlockHeader(header, payloadLength, chunkSize);
            reason = "";
            return BlockFileRead.Read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(probe);
        }
    }

    /// <summary>The key in a file's header when the header is intact and the file has the length it declares.</summary>
    public static BlockKey? TryReadKey(string path, long fileLength)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> fixedHeader = stackalloc byte[BlockFileFormat.FixedHeaderSize];
            if (ReadFully(handle, fixedHeader, 0) != fixedHeader.Length
                || !BlockFileFormat.TryReadFixedHeader(fixedHeader, out var headerSize, out var payloadLength, out _)
                || fileLength != headerSize + (long)payloadLength)
            {
                return null;
            }

            var header = ArrayPool<byte>.Shared.Rent(headerSize);
            try
            {
                var span = header.AsSpan(0, headerSize);
                return ReadFully(handle, span, 0) == headerSize && BlockFileFormat.IsHeaderIntact(span)
                    ? BlockFileFormat.ReadKey(span)
                    : null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(header);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads the whole chunks that cover bytes [<paramref name="offset"/>, +destination length) of the payload, checks
    /// each chunk's CRC against <paramref name="verified"/>, copies the bytes out. A short read (the file was truncated
    /// since its header was read) is Corrupt.
    /// </summary>
    public static BlockFileRead ReadChunks(SafeFileHandle handle, VerifiedBlockHeader verified, int offset, Span<byte> destination, out string reason)
    {
        var header = verified.Bytes;
        var headerSize = verified.HeaderSize;
        var payloadLength = verified.PayloadLength;
        var chunkSize = verified.ChunkSize;
        var firstChunk = offset / chunkSize;
        var lastChunk = (offset + destination.Length - 1) / chunkSize;
        var spanStart = firstChunk * chunkSize;
        var spanEnd = (int)Math.Min(payloadLength, (lastChunk + 1L) * chunkSize);
        var direct = spanStart == offset && spanEnd == offset + destination.Length;
        var scratch = direct ? null : BlockBuffers.Rent(spanEnd - spanStart);
        try
        {
            var chunks = direct ? destination : scratch.AsSpan(0, spanEnd - spanStart);
            if (ReadFully(handle, chunks, headerSize + (long)spanStart) != chunks.Length)
            {
                reason = "short payload";
                return BlockFileRead.Corrupt;
            }

            for (var chunk = firstChunk; chunk <= lastChunk; chunk++)
            {
                var at = (chunk * chunkSize) - spanStart;
                var bytes = chunks.Slice(at, Math.Min(chunkSize, chunks.Length - at));
                if (BlockFileFormat.Crc32C(bytes) != BlockFileFormat.ChunkCrc(header, chunk))
                {
                    reason = $"CRC mismatch in chunk {chunk}";
                    return BlockFileRead.Corrupt;
                }
            }

            if (!direct)
            {
                chunks.Slice(offset - spanStart, destination.Length).CopyTo(destination);
            }

            reason = "";
            return BlockFileRead.Read;
        }
        finally
        {
            if (scratch is not null)
            {
                BlockBuffers.Return(scratch);
            }
        }
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
