using System.Security.Cryptography;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>Lowercase hex SHA-256: how every download is compared with its source.</summary>
public static class Sha256Hex
{
    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static async Task<string> OfStreamAsync(Stream stream) => Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
}
