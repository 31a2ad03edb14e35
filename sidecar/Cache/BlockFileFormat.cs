using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The on-disk form of one block: a header (magic, version, lengths, the key fields, a CRC32C per 64 KiB chunk of
/// payload, and a CRC32C of the header itself) followed by the payload. The file name is a SHA-256 of the key
/// fields, so a lookup needs no index; the key fields in the header let a start-up scan rebuild the index and let
/// a read reject a file that is not the block it asked for. Per-chunk CRCs let a small range read (a 64 KiB GET, a
/// 4 KiB FUSE read) check only the chunks it touches instead of the whole block.
/// </summary>
/// <remarks>
/// Layout (little endian):
/// <code>
///  0 u32 magic "FLBK"     4 u16 version     6 u16 flags (0)
///  8 i32 header length   12 i32 payload length
/// 16 i32 chunk size      20 u32 header CRC32C (of the header with this field zeroed)
/// 24 i64 block index     32 u16 source length  34 u16 object key length  36 u16 etag length  38 u16 reserved
/// 40 UTF-8 source, object key, etag
///    u32 CRC32C of each payload chunk
/// </code>
/// Bytes [24, 40 + fields) are the "key portion": a pure function of the <see cref="BlockKey"/>, compared byte for
/// byte on every read and hashed for the file name.
/// </remarks>
internal static class BlockFileFormat
{
    public const uint Magic = 0x4B424C46; // "FLBK" read as little endian
    public const ushort Version = 1;
    public const int FixedHeaderSize = 40;
    public const int KeyPortionOffset = 24;
    public const int DefaultChunkSize = 64 * 1024;
    public const string BlockExtension = ".blk";
    public const string TempExtension = ".tmp";

    private const int HeaderCrcOffset = 20;

    /// <summary>Size of the key portion of <paramref name="key"/>; throws when a field is too long to store.</summary>
    public static int KeyPortionSize(BlockKey key) =>
        (FixedHeaderSize - KeyPortionOffset)
        + FieldLength(key.SourceIdentity, nameof(BlockKey.SourceIdentity))
        + FieldLength(key.ObjectKey, nameof(BlockKey.ObjectKey))
        + FieldLength(key.ETag, nameof(BlockKey.ETag));

    public static int ChunkCount(int payloadLength, int chunkSize) => (payloadLength + chunkSize - 1) / chunkSize;

    /// <summary>The header size of a block of <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderSize(BlockKey key, int payloadLength) =>
        KeyPortionOffset + KeyPortionSize(key) + (4 * ChunkCount(payloadLength, DefaultChunkSize));

    /// <summary>Writes the header of <paramref name="key"/> for <paramref name="payload"/> (its chunk CRCs included).</summary>
    public static void WriteHeader(Span<byte> header, BlockKey key, ReadOnlySpan<byte> payload)
    {
        var headerSize = HeaderSize(key, payload.Length);
        header = header[..headerSize];
        header.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], headerSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], payload.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], DefaultChunkSize);
        var keyPortionSize = KeyPortionSize(key);
        WriteKeyPortion(header.Slice(KeyPortionOffset, keyPortionSize), key);
        var table = header[(KeyPortionOffset + keyPortionSize)..];
        for (var chunk = 0; chunk * DefaultChunkSize < payload.Length; chunk++)
        {
            var start = chunk * DefaultChunkSize;
            var crc = Crc32C(payload.Slice(start, Math.Min(DefaultChunkSize, payload.Length - start)));
            BinaryPrimitives.WriteUInt32LittleEndian(table[(4 * chunk)..], crc);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(header[HeaderCrcOffset..], Crc32C(header));
    }

    /// <summary>Writes the key portion: the block index, the field lengths and the UTF-8 fields.</summary>
    public static void WriteKeyPortion(Span<byte> destination, BlockKey key)
    {
        const int fieldsAt = FixedHeaderSize - KeyPortionOffset;
        BinaryPrimitives.WriteInt64LittleEndian(destination, key.Index);
        var sourceLength = Encoding.UTF8.GetBytes(key.SourceIdentity, destination[fieldsAt..]);
        var keyLength = Encoding.UTF8.GetBytes(key.ObjectKey, destination[(fieldsAt + sourceLength)..]);
        var etagLength = Encoding.UTF8.GetBytes(key.ETag, destination[(fieldsAt + sourceLength + keyLength)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)sourceLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], (ushort)keyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], (ushort)etagLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], 0);
    }

    /// <summary>
    /// Reads the fixed part of a header. False when it is not a consistent block header of this version (a torn or
    /// foreign file); the header CRC is checked by <see cref="IsHeaderIntact"/> once the whole header is read.
    /// </summary>
    public static bool TryReadFixedHeader(ReadOnlySpan<byte> fixedHeader, out int headerSize, out int payloadLength, out int chunkSize)
    {
        headerSize = 0;
        payloadLength = 0;
        chunkSize = 0;
        if (fixedHeader.Length < FixedHeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader) != Magic
            || BinaryPrimitives.ReadUInt16LittleEndian(fixedHeader[4..]) != Version)
        {
            return false;
        }

        headerSize = BinaryPrimitives.ReadInt32LittleEndian(fixedHeader[8..]);
        payloadLength = BinaryPrimitives.ReadInt32LittleEndian(fixedHeader[12..]);
        chunkSize = BinaryPrimitives.ReadInt32LittleEndian(fixedHeader[16..]);
        if (payloadLength < 0 || chunkSize <= 0)
        {
            return false;
        }

        var declared = FixedHeaderSize + FieldsLength(fixedHeader) + (4L * ChunkCount(payloadLength, chunkSize));
        return headerSize == declared;
    }

    /// <summary>True when the header's own CRC matches (key fields and chunk CRCs were not damaged).</summary>
    public static bool IsHeaderIntact(ReadOnlySpan<byte> header)
    {
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(header[HeaderCrcOffset..]);
        var crc = new Crc32(Crc32ParameterSet.Crc32C);
        crc.Append(header[..HeaderCrcOffset]);
        crc.Append([0, 0, 0, 0]);
        crc.Append(header[(HeaderCrcOffset + 4)..]);
        return crc.GetCurrentHashAsUInt32() == stored;
    }

    /// <summary>True when an intact <paramref name="header"/> is the header of <paramref name="key"/>.</summary>
    public static bool KeyMatches(ReadOnlySpan<byte> header, BlockKey key)
    {
        var size = KeyPortionSize(key);
        if (KeyPortionOffset + size > header.Length)
        {
            return false;
        }

        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var expected = rented.AsSpan(0, size);
            WriteKeyPortion(expected, key);
            return header.Slice(KeyPortionOffset, size).SequenceEqual(expected)
                && FieldsLength(header) == size - (FixedHeaderSize - KeyPortionOffset);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The stored CRC32C of payload chunk <paramref name="chunk"/> of an intact header.</summary>
    public static uint ChunkCrc(ReadOnlySpan<byte> header, int chunk) =>
        BinaryPrimitives.ReadUInt32LittleEndian(header[(FixedHeaderSize + FieldsLength(header) + (4 * chunk))..]);

    /// <summary>The key an intact header describes.</summary>
    public static BlockKey ReadKey(ReadOnlySpan<byte> header)
    {
        var index = BinaryPrimitives.ReadInt64LittleEndian(header[KeyPortionOffset..]);
        int sourceLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(header[34..]);
        int etagLength = BinaryPrimitives.ReadUInt16LittleEndian(header[36..]);
        var fields = header[FixedHeaderSize..];
        return new BlockKey(
            Encoding.UTF8.GetString(fields[..sourceLength]),
            Encoding.UTF8.GetString(fields.Slice(sourceLength, keyLength)),
            Encoding.UTF8.GetString(fields.Slice(sourceLength + keyLength, etagLength)),
            index);
    }

    public static uint Crc32C(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>
    /// The block's file name stem: hex SHA-256 of the key portion. Length prefixes make ("ab", "c") and ("a", "bc")
    /// different; a strong hash makes crafted collisions impractical (and a collision is still caught on read).
    /// </summary>
    public static string FileStem(BlockKey key)
    {
        var size = KeyPortionSize(key);
        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var portion = rented.AsSpan(0, size);
            WriteKeyPortion(portion, key);
            Span<byte> hash = stackalloc byte[KeySha256.HashSizeInBytes];
            KeySha256.HashData(portion, hash); // not SHA256.HashData: see KeySha256 (no OpenSSL for file names)
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int FieldsLength(ReadOnlySpan<byte> header) =>
        BinaryPrimitives.ReadUInt16LittleEndian(header[32..])
        + BinaryPrimitives.ReadUInt16LittleEndian(header[34..])
        + BinaryPrimitives.ReadUInt16LittleEndian(header[36..]);

    private static int FieldLength(string value, string field)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"block key field '{field}' is {length} UTF-8 bytes; at most {ushort.MaxValue} fit in a block header", field);
        }

        return length;
    }
}
