using System.Buffers.Binary;
using System.IO.Hashing;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// CRC-32C (Castagnoli) — System.IO.Hashing 11 has only the IEEE CRC-32, and S3 accepts x-amz-checksum-crc32c.
/// Reflected, init and xorout 0xFFFFFFFF; check("123456789") = 0xE3069283. Output big-endian, as S3 encodes it.
/// </summary>
internal sealed class Crc32C : NonCryptographicHashAlgorithm
{
    private static readonly uint[] Table = BuildTable(0x82F63B78u);
    private uint _crc = uint.MaxValue;

    public Crc32C()
        : base(4)
    {
    }

    public override void Append(ReadOnlySpan<byte> source)
    {
        var crc = _crc;
        foreach (var b in source)
        {
            crc = Table[(byte)(crc ^ b)] ^ (crc >> 8);
        }

        _crc = crc;
    }

    public override void Reset() => _crc = uint.MaxValue;

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, ~_crc);

    private static uint[] BuildTable(uint reflectedPolynomial)
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ reflectedPolynomial : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}

/// <summary>
/// CRC-64/NVME (S3's x-amz-checksum-crc64nvme) — System.IO.Hashing's Crc64 is the ECMA-182 variant, not this one.
/// Polynomial 0xAD93D23594C93659 reflected, init and xorout all ones; check("123456789") = 0xAE8B14860A799888.
/// </summary>
internal sealed class Crc64Nvme : NonCryptographicHashAlgorithm
{
    private static readonly ulong[] Table = BuildTable(0x9A6C9329AC4BC9B5ul);
    private ulong _crc = ulong.MaxValue;

    public Crc64Nvme()
        : base(8)
    {
    }

    public override void Append(ReadOnlySpan<byte> source)
    {
        var crc = _crc;
        foreach (var b in source)
        {
            crc = Table[(byte)(crc ^ b)] ^ (crc >> 8);
        }

        _crc = crc;
    }

    public override void Reset() => _crc = ulong.MaxValue;

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, ~_crc);

    private static ulong[] BuildTable(ulong reflectedPolynomial)
    {
        var table = new ulong[256];
        for (ulong i = 0; i < 256; i++)
        {
            var c = i;
            for (var bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ reflectedPolynomial : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
