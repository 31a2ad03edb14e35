using System.IO.Hashing;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Turns a write request's body into the plain object bytes, verified: the aws-chunked framing is removed, and every
/// digest the client declared (x-amz-content-sha256 as a hex hash, Content-MD5, an x-amz-checksum-* header or
/// trailer) and x-amz-decoded-content-length are checked when the body ends. A mismatch throws
/// <see cref="UploadRejectedException"/> from the read that reaches the end — before the consumer can commit the
/// object — so nothing is stored.
/// </summary>
internal static class UploadBody
{
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";
    private const string ChecksumPrefix = "x-amz-checksum-";

    /// <summary>The decoded, verifying stream for <paramref name="request"/>; throws <see cref="UploadRejectedException"/> on bad headers.</summary>
    /// <param name="remoteChecksContentMd5">
    /// The body goes 1:1 to a remote that is sent the client's Content-MD5 and checks it (an UploadPart). When the body's
    /// SHA-256 is verified here as well, the MD5 is then left to the remote instead of hashing every byte a second
    /// time: the SHA-256 already proves the bytes are the client's (MD5 was the largest CPU cost of a streamed part).
    /// </param>
    public static VerifyingStream Open(HttpRequest request, bool remoteChecksContentMd5 = false)
    {
        var headers = request.Headers;
        var contentSha256 = headers["x-amz-content-sha256"].ToString();
        Stream body = request.Body;
        AwsChunkedStream? chunked = null;
        var streaming = contentSha256.StartsWith("STREAMING-", StringComparison.Ordinal)
            || headers.ContentEncoding.ToString().Contains("aws-chunked", StringComparison.OrdinalIgnoreCase);
        if (streaming)
        {
            if (contentSha256.Length > 0 && contentSha256 is not ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD" or "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
                or "STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
            {
                throw UploadRejectedException.InvalidRequest($"x-amz-content-sha256 '{contentSha256}' is not a supported streaming payload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-TRAILER).");
            }

            var chain = contentSha256.StartsWith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", StringComparison.Ordinal)
                ? request.HttpContext.Items[Auth.ChunkSignatureChain.ItemKey] as Auth.ChunkSignatureChain
                : null;
            body = chunked = new AwsChunkedStream(body, chain);
        }

        long? decodedLength = null;
        var decodedHeader = headers["x-amz-decoded-content-length"].ToString();
        if (decodedHeader.Length > 0)
        {
            if (!long.TryParse(decodedHeader, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                throw UploadRejectedException.InvalidRequest($"x-amz-decoded-content-length '{decodedHeader}' is not a non-negative integer.");
            }

            decodedLength = parsed;
        }
        else if (!streaming)
        {
            decodedLength = request.ContentLength;
        }

        if (decodedLength > WriteResponder.MaxPartSize)
        {
            throw UploadRejectedException.EntityTooLarge(decodedLength.Value);
        }

        var checks = new List<DigestCheck>(3);
        if (!streaming && contentSha256.Length == 64)
        {
            checks.Add(DigestCheck.Hex(contentSha256, "XAmzContentSHA256Mismatch", "x-amz-content-sha256"));
        }
        else if (!streaming && contentSha256.Length > 0 && contentSha256 != UnsignedPayload)
        {
            throw UploadRejectedException.InvalidRequest($"x-amz-content-sha256 '{contentSha256}' is neither a SHA-256 hex hash, UNSIGNED-PAYLOAD nor a STREAMING-* payload.");
        }

        var md5 = headers["Content-MD5"].ToString();
        var sha256Verified = !streaming && contentSha256.Length == 64;
        if (md5.Length > 0 && !(remoteChecksContentMd5 && sha256Verified))
        {
            checks.Add(DigestCheck.Base64(md5, MD5.Create(), "Content-MD5", 16));
        }

        foreach (var (name, value) in headers)
        {
            if (name.StartsWith(ChecksumPrefix, StringComparison.OrdinalIgnoreCase) && !name.Equals("x-amz-checksum-algorithm", StringComparison.OrdinalIgnoreCase)
                && !name.Equals("x-amz-checksum-type", StringComparison.OrdinalIgnoreCase))
            {
                checks.Add(DigestCheck.ForChecksum(name, value.ToString()));
            }
        }

        var trailer = headers["x-amz-trailer"].ToString().Trim();
        if (trailer.Length > 0)
        {
            if (chunked is null)
            {
                throw UploadRejectedException.InvalidRequest($"x-amz-trailer '{trailer}' needs an aws-chunked body (x-amz-content-sha256: STREAMING-…-TRAILER).");
            }

            var check = DigestCheck.ForChecksum(trailer, null);
            check.Trailers = chunked;
            checks.Add(check);
        }

        return new VerifyingStream(body, checks, decodedLength)
        {
            VerifiedSha256Hex = sha256Verified ? contentSha256.ToLowerInvariant() : null,
            ContentMd5 = md5.Length > 0 ? md5 : null,
        };
    }
}

/// <summary>One declared digest: an algorithm fed with the body, and the value to match (a header, or a trailer read at the end).</summary>
internal sealed class DigestCheck
{
    private readonly object _algorithm;
    private readonly string _errorCode;
    private readonly bool _hex;
    private readonly int _size;
    private string? _expected;

    private DigestCheck(object algorithm, string? expected, string name, string errorCode, bool hex, int size)
    {
        _algorithm = algorithm;
        _expected = expected;
        Name = name;
        _errorCode = errorCode;
        _hex = hex;
        _size = size;
    }

    public string Name { get; }

    /// <summary>Set when the expected value is a trailer of this chunked body.</summary>
    public AwsChunkedStream? Trailers { get; set; }

    public static DigestCheck Hex(string expected, string errorCode, string name) =>
        new(SHA256.Create(), expected.ToLowerInvariant(), name, errorCode, hex: true, 32);

    public static DigestCheck Base64(string expected, HashAlgorithm algorithm, string name, int size) =>
        new(algorithm, expected, name, "BadDigest", hex: false, size);

    /// <summary>An x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256} header (value) or trailer (null value).</summary>
    public static DigestCheck ForChecksum(string name, string? expected)
    {
        var lower = name.ToLowerInvariant();
        object algorithm = lower switch
        {
            "x-amz-checksum-crc32" => new Crc32(),
            "x-amz-checksum-crc32c" => new Crc32C(),
            "x-amz-checksum-crc64nvme" => new Crc64Nvme(),
            "x-amz-checksum-sha1" => SHA1.Create(),
            "x-amz-checksum-sha256" => SHA256.Create(),
            _ => throw UploadRejectedException.InvalidRequest($"'{name}' is not a supported checksum (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256)."),
        };
        var size = lower switch
        {
            "x-amz-checksum-crc32" or "x-amz-checksum-crc32c" => 4,
            "x-amz-checksum-crc64nvme" => 8,
            "x-amz-checksum-sha1" => 20,
            _ => 32,
        };
        return new DigestCheck(algorithm, expected, lower, "BadDigest", hex: false, size);
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (_algorithm is NonCryptographicHashAlgorithm crc)
        {
            crc.Append(data);
        }
        else
        {
            var hash = (HashAlgorithm)_algorithm;
            var array = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(data.Length, 64 * 1024));
            try
            {
                while (!data.IsEmpty)
                {
                    var n = Math.Min(array.Length, data.Length);
                    data[..n].CopyTo(array);
                    hash.TransformBlock(array, 0, n, null, 0);
                    data = data[n..];
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(array);
            }
        }
    }

    /// <summary>Throws when the body's digest differs from the declared one.</summary>
    public void Verify()
    {
        if (Trailers is not null)
        {
            if (!Trailers.Trailers.TryGetValue(Name, out _expected))
            {
                throw UploadRejectedException.InvalidRequest($"The body declared trailer '{Name}' (x-amz-trailer) but did not send it.");
            }
        }

        Span<byte> actual = stackalloc byte[_size];
        if (_algorithm is Crc32 ieee)
        {
            // System.IO.Hashing writes CRC-32 little-endian; S3 encodes the value big-endian.
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(actual, ieee.GetCurrentHashAsUInt32());
        }
        else if (_algorithm is NonCryptographicHashAlgorithm crc)
        {
            crc.GetCurrentHash(actual);
        }
        else
        {
            var hash = (HashAlgorithm)_algorithm;
            hash.TransformFinalBlock([], 0, 0);
            hash.Hash.AsSpan().CopyTo(actual);
        }

        var actualText = _hex ? Convert.ToHexStringLower(actual) : Convert.ToBase64String(actual);
        if (!_hex)
        {
            Span<byte> declared = stackalloc byte[_size];
            if (!Convert.TryFromBase64String(_expected!, declared, out var written) || written != _size)
            {
                throw UploadRejectedException.InvalidRequest($"{Name} '{_expected}' is not the base64 of a {_size}-byte digest.");
            }
        }

        if (!string.Equals(actualText, _expected, StringComparison.Ordinal))
        {
            var message = _errorCode == "XAmzContentSHA256Mismatch"
                ? $"The provided 'x-amz-content-sha256' header does not match what was computed (declared {_expected}, computed {actualText}); nothing was stored."
                : $"The {Name} you specified did not match the calculated checksum (declared {_expected}, computed {actualText}); nothing was stored.";
            throw new UploadRejectedException(new S3Error(400, _errorCode, message));
        }
    }
}
