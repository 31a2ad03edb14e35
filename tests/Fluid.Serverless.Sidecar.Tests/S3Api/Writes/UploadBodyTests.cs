using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.S3Api.Writes;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

public sealed class UploadBodyTests
{
    private static readonly byte[] Payload = Encoding.ASCII.GetBytes(new string('x', 70_000) + "tail");

    [Fact]
    public void Crc32C_CheckString_IsCatalogueValue()
    {
        var crc = new Crc32C();
        crc.Append("123456789"u8);
        Assert.Equal("E3069283", Convert.ToHexString(crc.GetCurrentHash()));
    }

    [Fact]
    public void Crc64Nvme_CheckString_IsCatalogueValue()
    {
        var crc = new Crc64Nvme();
        crc.Append("123456789"u8);
        Assert.Equal("AE8B14860A799888", Convert.ToHexString(crc.GetCurrentHash()));
    }

    [Fact]
    public async Task Open_SignedChunkedWithCrc32Trailer_DecodesExactBytes()
    {
        var request = Request(Chunked(Payload, 65536, signed: true, trailer: "x-amz-checksum-crc32:" + Crc32Base64(Payload)),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-decoded-content-length", Payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(SHA256.HashData(Payload), SHA256.HashData(await ReadAllAsync(request)));
    }

    [Fact]
    public async Task Open_UnsignedChunkedWithWrongTrailer_BadDigest()
    {
        var request = Request(Chunked(Payload, 8192, signed: false, trailer: "x-amz-checksum-crc32:" + Crc32Base64("other"u8.ToArray())),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-trailer", "x-amz-checksum-crc32"));

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(request));
        Assert.Equal("BadDigest", e.Error.Code);
    }

    [Fact]
    public async Task Open_ChunkShorterThanDeclared_InvalidRequest()
    {
        var body = Encoding.ASCII.GetBytes("10\r\nabc\r\n0\r\n\r\n");
        var request = Request(body, ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"));

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(request));
        Assert.Equal(400, e.Error.Status);
    }

    [Fact]
    public async Task Open_TruncatedChunkedBody_IncompleteBody()
    {
        var full = Chunked(Payload, 65536, signed: true, trailer: null);
        var request = Request(full[..(full.Length / 2)], ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(request));
        Assert.Equal("IncompleteBody", e.Error.Code);
    }

    [Fact]
    public async Task Open_OverlongChunkHeader_RejectedWithoutBuffering()
    {
        var body = Encoding.ASCII.GetBytes("1;chunk-signature=" + new string('a', 10_000) + "\r\nx\r\n0\r\n\r\n");
        var request = Request(body, ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(request));
        Assert.Contains("longer than", e.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x-amz-checksum-crc32c")]
    [InlineData("x-amz-checksum-crc64nvme")]
    [InlineData("x-amz-checksum-sha1")]
    [InlineData("x-amz-checksum-sha256")]
    [InlineData("Content-MD5")]
    public async Task Open_PlainBodyWithRightThenWrongDigestHeader_PassesThenBadDigest(string header)
    {
        var right = DigestOf(header, Payload);
        Assert.Equal(Payload, await ReadAllAsync(Request(Payload, (header, right), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"))));

        var wrong = DigestOf(header, "different"u8.ToArray());
        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(Request(Payload, (header, wrong))));
        Assert.Equal("BadDigest", e.Error.Code);
    }

    [Fact]
    public async Task Open_PlainBodyWithWrongPayloadHash_XAmzContentSHA256Mismatch()
    {
        var request = Request(Payload, ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData("x"u8))));

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(request));
        Assert.Equal("XAmzContentSHA256Mismatch", e.Error.Code);
    }

    [Fact]
    public async Task Open_PlainBodyWithRightPayloadHash_ExactBytes()
    {
        var request = Request(Payload, ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData(Payload))));

        Assert.Equal(Payload, await ReadAllAsync(request));
    }

    [Fact]
    public async Task Read_WrongTrailerAndDeclaredLength_ReadYieldingLastByteThrowsBeforeReturningIt()
    {
        var request = Request(Chunked(Payload, 8192, signed: false, trailer: "x-amz-checksum-crc32:" + Crc32Base64("other"u8.ToArray())),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-decoded-content-length", Payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var body = UploadBody.Open(request);
        var buffer = new byte[Payload.Length];
        var delivered = 0;

        // A consumer that stops at the declared length (an SDK sending Content-Length bytes) never asks for the end.
        var e = await Assert.ThrowsAsync<UploadRejectedException>(async () =>
        {
            while (delivered < Payload.Length)
            {
                delivered += await body.ReadAsync(buffer.AsMemory(delivered, Math.Min(4096, Payload.Length - delivered)));
            }
        });

        Assert.Equal("BadDigest", e.Error.Code);
        Assert.True(delivered < Payload.Length, $"{delivered} of {Payload.Length} bytes were handed on before the veto");
    }

    [Fact]
    public async Task Open_RemoteChecksMd5AndSha256Verified_WrongMd5LeftToRemote()
    {
        var wrongMd5 = Convert.ToBase64String(MD5.HashData("other"u8));
        (string, string)[] headers = [("Content-MD5", wrongMd5), ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData(Payload)))];

        await using var forwarded = UploadBody.Open(Request(Payload, headers), remoteChecksContentMd5: true);
        var output = new MemoryStream();
        await forwarded.CopyToAsync(output);
        var checkedHere = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAllAsync(Request(Payload, headers)));
        var unsignedForwarded = await Assert.ThrowsAsync<UploadRejectedException>(async () =>
        {
            await using var body = UploadBody.Open(Request(Payload, ("Content-MD5", wrongMd5), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")), remoteChecksContentMd5: true);
            await body.CopyToAsync(Stream.Null);
        });

        Assert.Equal(Payload, output.ToArray());
        Assert.Equal(wrongMd5, forwarded.ContentMd5);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Payload)), forwarded.VerifiedSha256Hex);
        Assert.Equal("BadDigest", checkedHere.Error.Code);
        Assert.Equal("BadDigest", unsignedForwarded.Error.Code);
    }

    private static string DigestOf(string header, byte[] data)
    {
        NonCryptographicHashAlgorithm? crc = header switch
        {
            "x-amz-checksum-crc32c" => new Crc32C(),
            "x-amz-checksum-crc64nvme" => new Crc64Nvme(),
            _ => null,
        };
        if (crc is not null)
        {
            crc.Append(data);
            return Convert.ToBase64String(crc.GetCurrentHash());
        }

        return Convert.ToBase64String(header switch
        {
            "x-amz-checksum-sha1" => SHA1.HashData(data),
            "x-amz-checksum-sha256" => SHA256.HashData(data),
            _ => MD5.HashData(data),
        });
    }

    private static string Crc32Base64(byte[] data)
    {
        var crc = Crc32.HashToUInt32(data);
        return Convert.ToBase64String([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
    }

    private static byte[] Chunked(byte[] data, int chunkSize, bool signed, string? trailer)
    {
        var output = new MemoryStream();
        void Ascii(string text) => output.Write(Encoding.ASCII.GetBytes(text));
        var signature = signed ? ";chunk-signature=" + new string('0', 64) : "";
        for (var offset = 0; offset < data.Length; offset += chunkSize)
        {
            var length = Math.Min(chunkSize, data.Length - offset);
            Ascii(length.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + signature + "\r\n");
            output.Write(data, offset, length);
            Ascii("\r\n");
        }

        Ascii("0" + signature + "\r\n");
        if (trailer is not null)
        {
            Ascii(trailer + "\r\n");
        }

        Ascii("\r\n");
        return output.ToArray();
    }

    private static HttpRequest Request(byte[] body, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(body);
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return context.Request;
    }

    private static async Task<byte[]> ReadAllAsync(HttpRequest request)
    {
        await using var stream = UploadBody.Open(request);
        var output = new MemoryStream();
        await stream.CopyToAsync(output);
        return output.ToArray();
    }
}
