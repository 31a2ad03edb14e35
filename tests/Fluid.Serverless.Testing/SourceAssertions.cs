using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Testing;

/// <summary>Checks every source must pass, whatever the protocol behind it.</summary>
internal static class SourceAssertions
{
    /// <summary>S3's order computed independently of the product: compare the UTF-8 bytes.</summary>
    public static int CompareUtf8(string a, string b) =>
        Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>Every key and common prefix, paging with <paramref name="maxKeys"/> through NextStartAfter.</summary>
    public static async Task<(List<string> Keys, List<string> Prefixes, int Pages)> ListAllAsync(
        IObjectSource source, string prefix, string? delimiter, int maxKeys)
    {
        var keys = new List<string>();
        var prefixes = new List<string>();
        string? startAfter = null;
        var pages = 0;
        do
        {
            var page = await source.ListAsync(new ListRequest(prefix, delimiter, startAfter, maxKeys), CancellationToken.None);
            pages++;
            Assert.True(page.Objects.Count + page.CommonPrefixes.Count <= maxKeys, "a page holds at most MaxKeys entries");
            keys.AddRange(page.Objects.Select(o => o.Key));
            prefixes.AddRange(page.CommonPrefixes);
            startAfter = page.NextStartAfter;
            Assert.True(pages < 10_000, "listing does not terminate");
        }
        while (startAfter is not null);

        return (keys, prefixes, pages);
    }

    public static async Task<byte[]> ReadAllAsync(IObjectSource source, RemoteObject obj, int chunk)
    {
        var result = new byte[obj.Size];
        for (long offset = 0; offset < obj.Size; offset += chunk)
        {
            var length = (int)Math.Min(chunk, obj.Size - offset);
            await source.ReadAsync(obj, offset, result.AsMemory((int)offset, length), CancellationToken.None);
        }

        return result;
    }

    public static string Sha256(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
