using System.Buffers.Binary;
using System.IO.Hashing;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// The bytes stored under a block key: a 48-byte header, then the block. Little-endian:
/// <code>
///  0  4  magic "FLBK"
///  4  2  format version (1)
///  6  2  header length (48): a later version may append fields a version-1 reader skips
///  8  4  payload length
/// 12  4  CRC32C of the payload
/// 16 32  SHA-256 of the block identity (the hash in the key): a value stored under the wrong key is refused
/// 48  …  payload
/// </code>
/// Anything else — another magic, a short value, a length or CRC that does not match, another identity — is refused,
/// so a corrupt, truncated or foreign value is a miss and is overwritten by the next fill, never served.
/// </summary>
internal static class SharedBlockValue
{
    public const int HeaderSize = 48;
    public const ushort FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "FLBK"u8;

    public static int ValueLength(int payloadLength) => HeaderSize + payloadLength;

    /// <summary>Writes the header for <paramref name="payload"/> into <paramref name="header"/> (at least <see cref="HeaderSize"/> bytes).</summary>
    public static void WriteHeader(Span<byte> header, ReadOnlySpan<byte> identityHash, ReadOnlySpan<byte> payload)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], Crc32C(payload));
        identityHash[..SharedTierKeys.HashSize].CopyTo(header[16..]);
    }

    /// <summary>True when <paramref name="value"/> is a valid block of <paramref name="expectedPayloadLength"/> bytes for this identity.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, ReadOnlySpan<byte> identityHash, int expectedPayloadLength, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!HeaderAccepts(value, expectedPayloadLength, identityHash, out var headerLength) || value.Length - headerLength != expectedPayloadLength)
        {
            return false;
        }

        var body = value.Slice(headerLength, expectedPayloadLength);
        if (!CrcMatches(value, body))
        {
            return false;
        }

        payload = body;
        return true;
    }

    /// <summary>
    /// The checks of <see cref="TryRead"/> for a value received in two pieces, a version-1 header of exactly
    /// <see cref="HeaderSize"/> bytes and the <paramref name="payload"/> in the buffer it will be served from.
    /// </summary>
    public static bool TryCheck(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> identityHash) =>
        header.Length == HeaderSize
        && HeaderAccepts(header, payload.Length, identityHash, out var headerLength)
        && headerLength == HeaderSize
        && CrcMatches(header, payload);

    /// <summary>
    /// Magic, version, payload length and identity of a header that starts <paramref name="value"/>; its length field
    /// (at least <see cref="HeaderSize"/>, at most the value) in <paramref name="headerLength"/>.
    /// </summary>
    private static bool HeaderAccepts(ReadOnlySpan<byte> value, int payloadLength, ReadOnlySpan<byte> identityHash, out int headerLength)
    {
        headerLength = 0;
        if (value.Length < HeaderSize || !value[..4].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt16LittleEndian(value[4..]) != FormatVersion)
        {
            return false;
        }

        headerLength = BinaryPrimitives.ReadUInt16LittleEndian(value[6..]);
        return headerLength >= HeaderSize
            && headerLength <= value.Length
            && BinaryPrimitives.ReadInt32LittleEndian(value[8..]) == payloadLength
            && value.Slice(16, SharedTierKeys.HashSize).SequenceEqual(identityHash[..SharedTierKeys.HashSize]);
    }

    private static bool CrcMatches(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) =>
        Crc32C(payload) == BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);

    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = new Crc32(Crc32ParameterSet.Crc32C);
        crc.Append(data);
        return crc.GetCurrentHashAsUInt32();
    }
}
