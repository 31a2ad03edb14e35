using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.S3Api.Writes;

namespace Fluid.Serverless.Sidecar.S3Api.Auth;

/// <summary>
/// The signature chain of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body: each chunk's signature signs the previous
/// signature (the seed is the request's) and the SHA-256 of the chunk's data; a -TRAILER body's trailer lines are
/// signed the same way. Verified chunk by chunk, before the next chunk (and before the end) is handed on, so a bad
/// chunk stops the upload before anything is committed.
/// </summary>
internal sealed class ChunkSignatureChain(byte[] signingKey, string amzDate, string scope, string seedSignature)
{
    public const string ItemKey = "fluid.sigv4.chunk-chain";
    private static readonly string EmptyHash = Convert.ToHexStringLower(SHA256.HashData([]));

    private readonly IncrementalHash _chunkHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private string _previous = seedSignature;
    private string? _declared;

    public void BeginChunk(string declaredSignature)
    {
        if (declaredSignature.Length == 0)
        {
            throw Mismatch("a chunk of a signed streaming body has no chunk-signature");
        }

        _declared = declaredSignature;
    }

    public void Append(ReadOnlySpan<byte> data) => _chunkHash.AppendData(data);

    public void EndChunk()
    {
        var dataHash = Convert.ToHexStringLower(_chunkHash.GetHashAndReset());
        var expected = Sign($"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{_previous}\n{EmptyHash}\n{dataHash}");
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(_declared ?? "")))
        {
            throw Mismatch("a chunk signature does not match the chunk's data");
        }

        _previous = expected;
    }

    /// <summary>Checks x-amz-trailer-signature over the trailer lines (name:value\n each, in order, without the signature line).</summary>
    public void VerifyTrailer(IReadOnlyList<KeyValuePair<string, string>> trailerLines, string? declared)
    {
        if (declared is null)
        {
            throw Mismatch("the trailer of a signed streaming body has no x-amz-trailer-signature");
        }

        var text = new StringBuilder();
        foreach (var (name, value) in trailerLines)
        {
            text.Append(name).Append(':').Append(value).Append('\n');
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        var expected = Sign($"AWS4-HMAC-SHA256-TRAILER\n{amzDate}\n{scope}\n{_previous}\n{hash}");
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(declared)))
        {
            throw Mismatch("the trailer signature does not match the trailer");
        }
    }

    private string Sign(string stringToSign) => Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    private static UploadRejectedException Mismatch(string what) =>
        new(new S3Error(403, "SignatureDoesNotMatch", $"The request signature we calculated does not match the signature you provided: {what}; nothing was stored."));
}
