using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api.Auth;

/// <summary>
/// The pieces of AWS Signature Version 4 that verifying a client's request (<see cref="SigV4Verifier"/>) and signing
/// a forwarded one (<c>Passthrough/UpstreamForwarder</c>) share: the canonical path and query of a raw request target,
/// the derived signing key and the signature. One implementation, so both sides always agree on canonicalization.
/// </summary>
internal static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>The origin-form (<c>/path?query</c>) of a raw request target; an absolute-form target loses scheme and authority.</summary>
    public static string OriginForm(string rawTarget)
    {
        if (rawTarget.StartsWith('/'))
        {
            return rawTarget;
        }

        var slash = rawTarget.IndexOf('/', rawTarget.IndexOf("//", StringComparison.Ordinal) + 2);
        return slash < 0 ? "/" : rawTarget[slash..];
    }

    /// <summary>Each path segment decoded, then encoded as SigV4 wants (S3 does not normalize the path).</summary>
    public static void AppendCanonicalPath(StringBuilder builder, string path)
    {
        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            builder.Append(i == 0 ? "" : "/").Append(UriEncode(Uri.UnescapeDataString(segments[i])));
        }
    }

    /// <summary>The query's pairs decoded, re-encoded and sorted by name then value; <paramref name="skipName"/> is left out.</summary>
    public static void AppendCanonicalQuery(StringBuilder builder, string query, string? skipName = null)
    {
        var pairs = new List<(string Name, string Value)>();
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            if (name == skipName)
            {
                continue;
            }

            pairs.Add((UriEncode(name), UriEncode(equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]))));
        }

        pairs.Sort((a, b) => a.Name != b.Name ? string.CompareOrdinal(a.Name, b.Name) : string.CompareOrdinal(a.Value, b.Value));
        for (var i = 0; i < pairs.Count; i++)
        {
            builder.Append(i == 0 ? "" : "&").Append(pairs[i].Name).Append('=').Append(pairs[i].Value);
        }
    }

    /// <summary>The string to sign for a canonical request under <paramref name="scope"/> (<c>day/region/service/aws4_request</c>).</summary>
    public static string StringToSign(string amzDate, string scope, string canonicalRequest) =>
        $"{Algorithm}\n{amzDate}\n{scope}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";

    /// <summary>kSigning = HMAC chain over the day, region, service and "aws4_request", seeded with "AWS4" + the secret.</summary>
    public static byte[] SigningKey(string secretAccessKey, string day, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(day));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    /// <summary>The lowercase hex signature of <paramref name="stringToSign"/>.</summary>
    public static string Signature(byte[] signingKey, string stringToSign) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    /// <summary>RFC 3986 encoding as SigV4 wants it: everything but A–Z a–z 0–9 - . _ ~ as %XX of the UTF-8 bytes.</summary>
    public static string UriEncode(string text)
    {
        var builder = new StringBuilder(text.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
