using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// Bucket and key of an S3 request, decoded from the raw request target (not from the server's normalized path:
/// normalization would turn "a/../b" into "b" and "%2F" ambiguity into wrong keys). <c>+</c> in a path is a
/// literal plus (only query strings use + for space).
/// </summary>
internal readonly record struct S3RequestTarget(string? Bucket, string? Key)
{
    public const int MaxKeyBytes = 1024;

    /// <summary>
    /// Parses <paramref name="rawTarget"/> (origin-form "/b/k?q" or absolute-form "http://h/b/k?q").
    /// With <paramref name="virtualHostBucket"/> the whole path is the key; otherwise the first segment is the bucket.
    /// Returns an error message when the target cannot be decoded or the key could escape a dataset's root.
    /// </summary>
    public static string? TryParse(string rawTarget, string? virtualHostBucket, out S3RequestTarget target)
    {
        target = default;
        var path = rawTarget.AsSpan();
        if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var afterScheme = path.IndexOf("//", StringComparison.Ordinal) + 2;
            var slash = path[afterScheme..].IndexOf('/');
            path = slash < 0 ? "/" : path[(afterScheme + slash)..];
        }

        var query = path.IndexOf('?');
        if (query >= 0)
        {
            path = path[..query];
        }

        if (path.IsEmpty || path[0] != '/')
        {
            return $"The request target '{rawTarget}' is not an absolute path.";
        }

        path = path[1..];
        string? bucket = virtualHostBucket;
        if (bucket is null)
        {
            var slash = path.IndexOf('/');
            var bucketPart = slash < 0 ? path : path[..slash];
            path = slash < 0 ? [] : path[(slash + 1)..];
            if (!bucketPart.IsEmpty)
            {
                if (PercentDecode(bucketPart) is not { } decodedBucket)
                {
                    return "The bucket name in the request path is not valid percent-encoded UTF-8.";
                }

                bucket = decodedBucket;
            }
            else if (!path.IsEmpty)
            {
                return "The request path '//…' names no bucket.";
            }
        }

        if (path.IsEmpty)
        {
            target = new S3RequestTarget(bucket, null);
            return null;
        }

        if (PercentDecode(path) is not { } key)
        {
            return "The object key in the request path is not valid percent-encoded UTF-8.";
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            return $"The object key is longer than {MaxKeyBytes} bytes.";
        }

        if (UnsafeKeyReason(key) is { } reason)
        {
            return $"The object key '{key}' is not allowed: {reason}.";
        }

        target = new S3RequestTarget(bucket, key);
        return null;
    }

    /// <summary>
    /// Why a key could address something outside its dataset on a file-system-like source, or null when it is safe:
    /// a leading '/', '.' or '..' segments, empty segments ("a//b"), backslashes, NUL and other control characters.
    /// S3 itself allows these keys; the sidecar refuses them rather than risk serving a file outside the root.
    /// </summary>
    public static string? UnsafeKeyReason(string key)
    {
        if (key.StartsWith('/'))
        {
            return "it starts with '/'";
        }

        foreach (var c in key)
        {
            if (c == '\\')
            {
                return "it contains a backslash";
            }

            if (c < 0x20 || c == 0x7F)
            {
                return "it contains a control character";
            }
        }

        var segments = key.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment is "." or "..")
            {
                return $"it contains a '{segment}' segment";
            }

            // A trailing '/' (a "directory marker" key) is fine; an empty segment in the middle is not.
            if (segment.Length == 0 && i < segments.Length - 1)
            {
                return "it contains an empty segment ('//')";
            }
        }

        return null;
    }

    /// <summary>Percent-decodes to bytes and then strict UTF-8; null on malformed escapes or invalid UTF-8.</summary>
    public static string? PercentDecode(ReadOnlySpan<char> value)
    {
        if (value.IndexOf('%') < 0)
        {
            return value.ToString();
        }

        var bytes = value.Length <= 512 ? stackalloc byte[value.Length * 3] : new byte[value.Length * 3];
        var length = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '%')
            {
                if (i + 2 >= value.Length || !IsHex(value[i + 1]) || !IsHex(value[i + 2]))
                {
                    return null;
                }

                bytes[length++] = (byte)((HexValue(value[i + 1]) << 4) | HexValue(value[i + 2]));
                i += 2;
            }
            else
            {
                length += Encoding.UTF8.GetBytes(value.Slice(i, char.IsHighSurrogate(c) && i + 1 < value.Length ? 2 : 1), bytes[length..]);
                if (char.IsHighSurrogate(c))
                {
                    i++;
                }
            }
        }

        try
        {
            return StrictUtf8.GetString(bytes[..length]);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
