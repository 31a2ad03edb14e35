using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// Reads one annotation from a Kubernetes downward-API <c>annotations</c> file. Kubelet writes one
/// <c>key="value"</c> line per annotation with the value quoted by Go's <c>strconv.Quote</c>, so a JSON annotation
/// arrives with its quotes escaped (<c>\"</c>) and non-printable characters as <c>\n</c>, <c>\t</c>, <c>\uXXXX</c>
/// or <c>\xHH</c> bytes; this class undoes exactly that quoting.
/// </summary>
internal static class DownwardApiAnnotations
{
    /// <summary>The unquoted value of <paramref name="key"/>, null when the file has no such line.</summary>
    /// <exception cref="FormatException">The line of <paramref name="key"/> is not a Go-quoted string.</exception>
    public static string? Find(string fileText, string key)
    {
        foreach (var rawLine in fileText.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !line.AsSpan(0, equals).SequenceEqual(key))
            {
                continue;
            }

            return Unquote(line.AsSpan(equals + 1), key);
        }

        return null;
    }

    /// <summary>Reverses Go's strconv.Quote: a double-quoted string with Go escape sequences.</summary>
    public static string Unquote(ReadOnlySpan<char> quoted, string keyForErrors)
    {
        if (quoted.Length < 2 || quoted[0] != '"' || quoted[^1] != '"')
        {
            throw new FormatException($"annotation '{keyForErrors}': value is not a double-quoted Go string");
        }

        var body = quoted[1..^1];
        // \x and octal escapes are raw bytes (Go strings are byte strings), so decode into bytes and UTF-8 at the end.
        var bytes = new List<byte>(body.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c != '\\')
            {
                if (char.IsHighSurrogate(c) && i + 1 < body.Length)
                {
                    AppendRune(bytes, new Rune(c, body[++i]), utf8);
                }
                else
                {
                    AppendRune(bytes, new Rune(c), utf8);
                }

                continue;
            }

            if (++i >= body.Length)
            {
                throw new FormatException($"annotation '{keyForErrors}': value ends inside an escape sequence");
            }

            switch (body[i])
            {
                case 'a': bytes.Add(0x07); break;
                case 'b': bytes.Add(0x08); break;
                case 'f': bytes.Add(0x0C); break;
                case 'n': bytes.Add(0x0A); break;
                case 'r': bytes.Add(0x0D); break;
                case 't': bytes.Add(0x09); break;
                case 'v': bytes.Add(0x0B); break;
                case '\\': bytes.Add((byte)'\\'); break;
                case '"': bytes.Add((byte)'"'); break;
                case '\'': bytes.Add((byte)'\''); break;
                case 'x':
                    bytes.Add((byte)ParseHex(body, ref i, 2, keyForErrors));
                    break;
                case 'u':
                    AppendRune(bytes, new Rune(ParseHex(body, ref i, 4, keyForErrors)), utf8);
                    break;
                case 'U':
                    AppendRune(bytes, new Rune(ParseHex(body, ref i, 8, keyForErrors)), utf8);
                    break;
                case >= '0' and <= '7':
                    if (i + 2 >= body.Length)
                    {
                        throw new FormatException($"annotation '{keyForErrors}': truncated octal escape");
                    }

                    bytes.Add((byte)Convert.ToInt32(body.Slice(i, 3).ToString(), 8));
                    i += 2;
                    break;
                default:
                    throw new FormatException($"annotation '{keyForErrors}': unknown escape sequence '\\{body[i]}'");
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static int ParseHex(ReadOnlySpan<char> body, ref int i, int digits, string keyForErrors)
    {
        if (i + digits >= body.Length
            || !int.TryParse(body.Slice(i + 1, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"annotation '{keyForErrors}': invalid \\{body[i]} escape: expected {digits} hex digits");
        }

        i += digits;
        return value;
    }

    private static void AppendRune(List<byte> bytes, Rune rune, Span<byte> scratch)
    {
        var written = rune.EncodeToUtf8(scratch);
        for (var j = 0; j < written; j++)
        {
            bytes.Add(scratch[j]);
        }
    }
}
