using System.Text;

namespace Fluid.Serverless.Injector.Json;

/// <summary>RFC 6901 pointers: '~' becomes "~0" first, then '/' becomes "~1" (the order matters: "~1" must not be re-escaped).</summary>
internal static class JsonPointer
{
    public static string Escape(string token) =>
        token.Contains('~', StringComparison.Ordinal) || token.Contains('/', StringComparison.Ordinal)
            ? token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)
            : token;

    public static string Unescape(string token) =>
        token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);

    public static string Append(string pointer, string token) => new StringBuilder(pointer.Length + token.Length + 1)
        .Append(pointer).Append('/').Append(Escape(token)).ToString();

    public static string Append(string pointer, int index) => pointer + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Splits "/a/b~1c" into ["a", "b/c"]; the empty pointer is the whole document.</summary>
    public static IReadOnlyList<string> Parse(string pointer)
    {
        if (pointer.Length == 0)
        {
            return [];
        }

        if (pointer[0] != '/')
        {
            throw new FormatException($"invalid JSON pointer '{pointer}': expected it to start with '/'");
        }

        return [.. pointer[1..].Split('/').Select(Unescape)];
    }
}
