using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.S3Api.Auth;
using Fluid.Serverless.Sidecar.S3Api.Writes;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Auth;

/// <summary>The worked example of AWS's "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks".</summary>
public sealed class ChunkSignatureChainTests
{
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string Seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    [Fact]
    public async Task Read_AwsDocumentationExample_DecodesAll66560Bytes()
    {
        var decoded = await ReadAsync(Body());

        Assert.Equal(66_560, decoded.Length);
        Assert.All(decoded, b => Assert.Equal((byte)'a', b));
    }

    [Fact]
    public async Task Read_OneDataByteChanged_SignatureDoesNotMatch()
    {
        var body = Body();
        body[200] = (byte)'b';

        var e = await Assert.ThrowsAsync<UploadRejectedException>(() => ReadAsync(body));

        Assert.Equal("SignatureDoesNotMatch", e.Error.Code);
        Assert.Equal(403, e.Error.Status);
    }

    private static byte[] Body()
    {
        var output = new MemoryStream();
        void Chunk(int size, string signature)
        {
            output.Write(Encoding.ASCII.GetBytes($"{size:x};chunk-signature={signature}\r\n"));
            output.Write(Enumerable.Repeat((byte)'a', size).ToArray());
            output.Write("\r\n"u8);
        }

        Chunk(65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
        Chunk(1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
        Chunk(0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
        return output.ToArray();
    }

    private static async Task<byte[]> ReadAsync(byte[] body)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + Secret), "20130524"u8);
        key = HMACSHA256.HashData(key, "us-east-1"u8);
        key = HMACSHA256.HashData(key, "s3"u8);
        key = HMACSHA256.HashData(key, "aws4_request"u8);
        var chain = new ChunkSignatureChain(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", Seed);
        await using var stream = new AwsChunkedStream(new MemoryStream(body), chain);
        var output = new MemoryStream();
        await stream.CopyToAsync(output);
        return output.ToArray();
    }
}
