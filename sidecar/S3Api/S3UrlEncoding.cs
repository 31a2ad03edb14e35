using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// encoding-type=url: percent-encodes every byte of the UTF-8 form except unreserved characters and '/', as S3
/// does. Space becomes %20 and '+' becomes %2B, so both decoders in use (form-style, where '+' is a space, as in
/// botocore and the .NET SDK, and plain percent-decoding) read the same key back.
/// </summary>
internal static class S3UrlEncoding
{
    public static string Encode(string value)
    {
        var needs = false;
        foreach (var c in value)
        {
            if (!IsUnreservedOrSlash(c))
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return value;
        }

        var builder = new StringBuilder(value.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b < 0x80 && IsUnreservedOrSlash((char)b))
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);
            }
        }

        return builder.ToString();
    }

    private static bool IsUnreservedOrSlash(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or '/';
}
