using System.Buffers.Text;
using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// ListObjectsV2 continuation tokens: opaque to clients, "v1:" + the last key or common prefix returned, UTF-8,
/// base64url. Stateless (any replica, any restart, any live config change can resume a listing) and checked: a
/// token that does not decode to that shape is rejected instead of silently restarting the listing.
/// </summary>
internal static class ContinuationToken
{
    private const string Version = "v1:";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string lastKey) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Version + lastKey));

    public static bool TryDecode(string token, out string lastKey)
    {
        lastKey = "";
        if (string.IsNullOrEmpty(token) || token.Length > 4096 || !Base64Url.IsValid(token))
        {
            return false;
        }

        try
        {
            var text = StrictUtf8.GetString(Base64Url.DecodeFromChars(token));
            if (!text.StartsWith(Version, StringComparison.Ordinal) || text.Length == Version.Length)
            {
                return false;
            }

            lastKey = text[Version.Length..];
            return true;
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return false;
        }
    }
}
