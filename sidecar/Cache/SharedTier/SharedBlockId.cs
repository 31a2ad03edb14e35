using System.Buffers.Binary;
using System.Text;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// The content identity of one block: which remote (<paramref name="SourceIdentity"/>, e.g. the endpoint and bucket, not
/// the dataset name, so two datasets over the same remote object share blocks), which object and which version of it
/// (<paramref name="Version"/> = the ETag or version id, so a changed object never serves old bytes), and which block.
/// </summary>
internal readonly record struct SharedBlockId(string SourceIdentity, string ObjectKey, string Version, int BlockSize, long BlockIndex)
{
    /// <summary>
    /// SHA-256 over a length-prefixed encoding of every field: no two identities encode alike (a '/' or NUL in a key
    /// cannot shift one field into the next), and the tier key stays short whatever the object key's length.
    /// </summary>
    public void Hash(Span<byte> destination)
    {
        var length = 3 * sizeof(int) + Utf8Length(SourceIdentity) + Utf8Length(ObjectKey) + Utf8Length(Version) + sizeof(int) + sizeof(long) + 1;
        var buffer = length <= 1024 ? stackalloc byte[1024] : new byte[length];
        var span = buffer[..length];
        span[0] = 1; // identity encoding version
        var offset = 1;
        offset += WriteField(span[offset..], SourceIdentity);
        offset += WriteField(span[offset..], ObjectKey);
        offset += WriteField(span[offset..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], BlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[(offset + sizeof(int))..], BlockIndex);
        KeySha256.HashData(span, destination);
    }

    private static int Utf8Length(string value) => Encoding.UTF8.GetByteCount(value);

    private static int WriteField(Span<byte> destination, string value)
    {
        var written = Encoding.UTF8.GetBytes(value, destination[sizeof(int)..]);
        BinaryPrimitives.WriteInt32LittleEndian(destination, written);
        return sizeof(int) + written;
    }
}

/// <summary>The names a block and its fill lease have in the engine.</summary>
internal static class SharedTierKeys
{
    public const int HashSize = KeySha256.HashSizeInBytes;

    /// <summary>
    /// <c>{prefix}blk/{sha256 hex}</c>. No Redis hash tag: blocks spread over every slot of a cluster, and a block and
    /// its lease (<see cref="Lease"/>) need no common slot, since no command touches both.
    /// </summary>
    public static string Block(string prefix, ReadOnlySpan<byte> hash) => prefix + "blk/" + Convert.ToHexStringLower(hash);

    public static string Lease(string prefix, ReadOnlySpan<byte> hash) => prefix + "lease/" + Convert.ToHexStringLower(hash);
}
