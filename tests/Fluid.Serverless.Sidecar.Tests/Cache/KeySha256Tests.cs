using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class KeySha256Tests
{
    [Fact]
    public void HashData_EveryLengthAroundBlockBoundaries_SameAsPlatformSha256()
    {
        // Block file names of existing caches depend on it: byte-identical to SHA-256 for every padding case
        // (0..300 bytes covers one, two and several 64-byte blocks and both one- and two-block tails).
        var random = new Random(42);
        Span<byte> ours = stackalloc byte[KeySha256.HashSizeInBytes];
        for (var length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            KeySha256.HashData(data, ours);
            Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(ours));
        }
    }

    [Fact]
    public void HashData_KnownVectors_MatchFips180Examples()
    {
        Span<byte> hash = stackalloc byte[KeySha256.HashSizeInBytes];
        KeySha256.HashData("abc"u8, hash);
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(hash));
        KeySha256.HashData(Encoding.ASCII.GetBytes(new string('a', 1_000_000)), hash);
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Convert.ToHexStringLower(hash));
    }

    [Fact]
    public void HashData_DestinationTooSmall_ThrowsNamingIt()
    {
        var error = Assert.Throws<ArgumentException>(() => KeySha256.HashData([1, 2, 3], new byte[31]));
        Assert.Equal("destination", error.ParamName);
    }
}
