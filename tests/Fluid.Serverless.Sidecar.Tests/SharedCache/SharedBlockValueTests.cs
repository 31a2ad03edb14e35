using Fluid.Serverless.Sidecar.Cache.SharedTier;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

public sealed class SharedBlockValueTests
{
    private static (byte[] Value, byte[] Hash, byte[] Payload) Valid(int length = 1000)
    {
        var payload = TierTesting.Bytes(length, 7);
        var hash = new byte[SharedTierKeys.HashSize];
        TierTesting.Id("k").Hash(hash);
        var value = new byte[SharedBlockValue.ValueLength(payload.Length)];
        SharedBlockValue.WriteHeader(value, hash, payload);
        payload.CopyTo(value.AsSpan(SharedBlockValue.HeaderSize));
        return (value, hash, payload);
    }

    [Fact]
    public void TryCheck_HeaderAndPayloadReadApart_AcceptsThemInPlace()
    {
        var (value, hash, _) = Valid();
        Assert.True(SharedBlockValue.TryCheck(value.AsSpan(0, SharedBlockValue.HeaderSize), value.AsSpan(SharedBlockValue.HeaderSize), hash));
    }

    [Theory]
    [InlineData(0)] // magic
    [InlineData(4)] // format version
    [InlineData(6)] // header length: a longer header would shift the payload
    [InlineData(8)] // payload length
    [InlineData(12)] // CRC32C
    [InlineData(20)] // identity hash
    [InlineData(48)] // first payload byte
    [InlineData(1047)] // last payload byte
    public void TryCheck_OneByteFlipped_Refuses(int offset)
    {
        var (value, hash, _) = Valid();
        value[offset] ^= 0x40;
        Assert.False(SharedBlockValue.TryCheck(value.AsSpan(0, SharedBlockValue.HeaderSize), value.AsSpan(SharedBlockValue.HeaderSize), hash));
    }

    [Fact]
    public void TryRead_ValueItWrote_ReturnsThePayload()
    {
        var (value, hash, payload) = Valid();
        Assert.True(SharedBlockValue.TryRead(value, hash, payload.Length, out var read));
        Assert.Equal(TierTesting.Sha256(payload), TierTesting.Sha256(read));
    }

    [Theory]
    [InlineData(0)] // magic
    [InlineData(4)] // format version
    [InlineData(8)] // payload length
    [InlineData(12)] // CRC32C
    [InlineData(20)] // identity hash
    [InlineData(48)] // first payload byte
    [InlineData(1047)] // last payload byte
    public void TryRead_OneByteFlipped_Refuses(int offset)
    {
        var (value, hash, payload) = Valid();
        value[offset] ^= 0x40;
        Assert.False(SharedBlockValue.TryRead(value, hash, payload.Length, out _));
    }

    [Fact]
    public void TryRead_TruncatedOrOfAnotherLengthOrIdentity_Refuses()
    {
        var (value, hash, payload) = Valid();
        Assert.False(SharedBlockValue.TryRead(value.AsSpan(0, value.Length - 1), hash, payload.Length, out _));
        Assert.False(SharedBlockValue.TryRead(value.AsSpan(0, 20), hash, payload.Length, out _));
        Assert.False(SharedBlockValue.TryRead(value, hash, payload.Length - 1, out _));
        var other = new byte[SharedTierKeys.HashSize];
        TierTesting.Id("k", index: 1).Hash(other);
        Assert.False(SharedBlockValue.TryRead(value, other, payload.Length, out _));
    }

    [Fact]
    public void Hash_EveryIdentityFieldCounts_AndFieldsCannotShift()
    {
        var baseline = TierTesting.Id("dir/file", index: 3);
        SharedBlockId[] variants =
        [
            baseline with { SourceIdentity = baseline.SourceIdentity + "2" },
            baseline with { ObjectKey = "dir/file2" },
            baseline with { Version = "\"etag-2\"" },
            baseline with { BlockSize = 1 << 20 },
            baseline with { BlockIndex = 4 },
            // "a" + "bc" and "ab" + "c" must differ: fields are length-prefixed.
            baseline with { SourceIdentity = baseline.SourceIdentity + "d", ObjectKey = "ir/file" },
        ];
        var hashes = new HashSet<string> { Hex(baseline) };
        foreach (var variant in variants)
        {
            Assert.True(hashes.Add(Hex(variant)), $"{variant} hashes like another identity");
        }

        Assert.Equal(Hex(baseline), Hex(TierTesting.Id("dir/file", index: 3)));
    }

    private static string Hex(SharedBlockId id)
    {
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        return Convert.ToHexString(hash);
    }
}
