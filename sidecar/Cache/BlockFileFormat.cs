using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The on-disk form of one block: a header (magic, version, lengths, payload CRC32C, header CRC32C, the key fields)
/// followed by the payload. The file name is a SHA-256 of the key fields, so a lookup needs no index; the key
/// fields in the header let a start-up scan rebuild the index and let a read reject a file that is not the block
/// it asked for (a hash collision or a stray file).
/// </summary>
/// <remarks>
/// Layout (little endian):
/// <code>
///  0 u32 magic "FLBK"     4 u16 version     6 u16 flags (0)
///  8 i32 header length   12 i32 payload length
/// 16 u32 payload CRC32C  20 u32 header CRC32C (of the header with this field zeroed)
/// 24 i64 block index     32 u16 source length  34 u16 object key length  36 u16 etag length  38 u16 reserved
/// 40 UTF-8 source, object key, etag
/// </code>
/// Everything from offset 24 on is the "key portion": a pure function of the <see cref="BlockKey"/>, compared
/// byte for byte on every read.
/// </remarks>
internal static class BlockFileFormat
{
    public const uint Magic = 0x4B424C46; // "FLBK" read as little endian
    public const ushort Version = 1;
    public const int FixedHeaderSize = 40;
    public const int KeyPortionOffset = 24;
    public const string BlockExtension = ".blk";
    public const string TempExtension = ".tmp";

    private const int HeaderCrcOffset = 20;

    /// <summary>Upper bound of a header: three strings of at most ushort.MaxValue bytes each.</summary>
    public const int MaxHeaderSize = FixedHeaderSize + (3 * ushort.MaxValue);

    /// <summary>The number of header bytes <paramref name="key"/> needs; throws when a field is too long to store.</summary>
    public static int HeaderSize(BlockKey key) =>
        FixedHeaderSize + FieldLength(key.SourceIdentity, nameof(BlockKey.SourceIdentity))
        + FieldLength(key.ObjectKey, nameof(BlockKey.ObjectKey))
        + FieldLength(key.ETag, nameof(BlockKey.ETag));

    /// <summary>Writes the header of <paramref name="key"/> with <paramref name="payload"/>'s length and CRC.</summary>
    public static void WriteHeader(Span<byte> header, BlockKey key, ReadOnlySpan<byte> payload)
    {
        var headerSize = HeaderSize(key);
        header = header[..headerSize];
        header.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], headerSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], Crc32C(payload));
        WriteKeyPortion(header[KeyPortionOffset..], key);
        BinaryPrimitives.WriteUInt32LittleEndian(header[HeaderCrcOffset..], Crc32C(header));
    }

    /// <summary>Writes the bytes from offset 24 on: the block index, the field lengths and the UTF-8 fields.</summary>
    public static void WriteKeyPortion(Span<byte> destination, BlockKey key)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, key.Index);
        var sourceLength = Encoding.UTF8.GetBytes(key.SourceIdentity, destination[(FixedHeaderSize - KeyPortionOffset)..]);
        var keyLength = Encoding.UTF8.GetBytes(key.ObjectKey, destination[(FixedHeaderSize - KeyPortionOffset + sourceLength)..]);
        var etagLength = Encoding.UTF8.GetBytes(key.ETag, destination[(FixedHeaderSize - KeyPortionOffset + sourceLength + keyLength)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)sourceLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], (ushort)keyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], (ushort)etagLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], 0);
    }

    /// <summary>
    /// Reads the fixed part of a header. False when it is not a block header of this version (a torn or foreign
    /// file); the header CRC is checked later by <see cref="IsHeaderIntact"/> once the whole header is read.
    /// </summary>
    public static bool TryReadFixedHeader(ReadOnlySpan<byte> fixedHeader, out int headerSize, out int payloadLength, out uint payloadCrc)
    {
        headerSize = 0;
        payloadLength = 0;
        payloadCrc = 0;
        if (fixedHeader.Length < FixedHeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader) != Magic
            || BinaryPrimitives.ReadUInt16LittleEndian(fixedHeader[4..]) != Version)
        {
            return false;
        }

        headerSize = BinaryPrimitives.ReadInt32LittleEndian(fixedHeader[8..]);
        payloadLength = BinaryPrimitives.ReadInt32LittleEndian(fixedHeader[12..]);
        payloadCrc = BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader[16..]);
        var declared = FixedHeaderSize
            + BinaryPrimitives.ReadUInt16LittleEndian(fixedHeader[32..])
            + BinaryPrimitives.ReadUInt16LittleEndian(fixedHeader[34..])
            + BinaryPrimitives.ReadUInt16LittleEndian(fixedHeader[36..]);
        return headerSize == declared && payloadLength >= 0;
    }

    /// <summary>True when the header's own CRC matches (the key fields were not damaged).</summary>
    public static bool IsHeaderIntact(ReadOnlySpan<byte> header)
    {
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(header[HeaderCrcOffset..]);
        var crc = new Crc32(Crc32ParameterSet.Crc32C);
        crc.Append(header[..HeaderCrcOffset]);
        crc.Append([0, 0, 0, 0]);
        crc.Append(header[(HeaderCrcOffset + 4)..]);
        return crc.GetCurrentHashAsUInt32() == stored;
    }

    /// <summary>The key a (CRC-checked) header describes.</summary>
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
    /// The block's file name stem: hex SHA-256 of the length-prefixed key fields. Length prefixes make
    /// ("ab", "c") and ("a", "bc") different; a strong hash makes crafted collisions impractical.
    /// </summary>
    public static string FileStem(BlockKey key)
    {
        var size = HeaderSize(key) - KeyPortionOffset;
        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var portion = rented.AsSpan(0, size);
            WriteKeyPortion(portion, key);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(portion, hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

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
