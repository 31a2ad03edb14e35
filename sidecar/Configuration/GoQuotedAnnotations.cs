using System.Buffers;
using System.Text;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Reads the downward-API annotations file kubelet writes: one <c>key="value"</c> line per annotation, the value
/// quoted the way Go's <c>strconv.Quote</c> does (so a JSON annotation arrives as <c>"{\"version\":1,…}"</c>).
/// Unquoting follows Go's <c>strconv.Unquote</c> for double-quoted strings: \a \b \f \n \r \t \v \\ \" and the
/// numeric escapes \xHH and \ooo (bytes) and \uHHHH and \UHHHHHHHH (code points). Anything else is an error that
/// names the line, because a half-read config is worse than none.
/// </summary>
internal static class GoQuotedAnnotations
{
    public static IReadOnlyDictionary<string, string> Parse(ReadOnlySpan<byte> file)
    {
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        var lineNumber = 0;
        while (!file.IsEmpty)
        {
            lineNumber++;
            var end = file.IndexOf((byte)'\n');
            var line = end < 0 ? file : file[..end];
            file = end < 0 ? [] : file[(end + 1)..];
            line = line.TrimEnd((byte)'\r');
            if (line.IsEmpty)
            {
                continue;
            }

            var equals = line.IndexOf((byte)'=');
            if (equals <= 0)
            {
                throw new FormatException($"annotations file line {lineNumber}: expected key=\"value\"");
            }

            var key = Encoding.UTF8.GetString(line[..equals]);
            string value;
            try
            {
                value = Unquote(line[(equals + 1)..]);
            }
            catch (FormatException e)
            {
                throw new FormatException($"annotations file line {lineNumber} (key '{key}'): {e.Message}", e);
            }

            if (!annotations.TryAdd(key, value))
            {
                throw new FormatException($"annotations file line {lineNumber}: key '{key}' appears twice");
            }
        }

        return annotations;
    }

    /// <summary>Go's strconv.Unquote for a double-quoted string (the whole span, quotes included).</summary>
    public static string Unquote(ReadOnlySpan<byte> quoted)
    {
        if (quoted.Length < 2 || quoted[0] != (byte)'"' || quoted[^1] != (byte)'"')
        {
            throw new FormatException("expected a double-quoted value");
        }

        var body = quoted[1..^1];
        if (body.IndexOfAny((byte)'\\', (byte)'"', (byte)'\n') < 0)
        {
            return Encoding.UTF8.GetString(body);
        }

        var output = new ArrayBufferWriter<byte>(body.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < body.Length;)
        {
            var b = body[i];
            if (b == (byte)'"' || b == (byte)'\n')
            {
                throw new FormatException($"unescaped {(b == '"' ? "quote" : "newline")} at byte {i + 1} of the value");
            }

            if (b != (byte)'\\')
            {
                var run = body[i..].IndexOfAny((byte)'\\', (byte)'"', (byte)'\n');
                var length = run < 0 ? body.Length - i : run;
                output.Write(body.Slice(i, length));
                i += length;
                continue;
            }

            if (i + 1 >= body.Length)
            {
                throw new FormatException("value ends inside an escape");
            }

            var escape = body[i + 1];
            i += 2;
            switch (escape)
            {
                case (byte)'a': output.Write("\a"u8); break;
                case (byte)'b': output.Write("\b"u8); break;
                case (byte)'f': output.Write("\f"u8); break;
                case (byte)'n': output.Write("\n"u8); break;
                case (byte)'r': output.Write("\r"u8); break;
                case (byte)'t': output.Write("\t"u8); break;
                case (byte)'v': output.Write("\v"u8); break;
                case (byte)'\\': output.Write("\\"u8); break;
                case (byte)'"': output.Write("\""u8); break;
                case (byte)'x':
                    output.Write([(byte)ParseHex(body, ref i, 2)]);
                    break;
                case (byte)'u':
                case (byte)'U':
                    var codePoint = ParseHex(body, ref i, escape == (byte)'u' ? 4 : 8);
                    if (!Rune.TryCreate(codePoint, out var rune))
                    {
                        throw new FormatException($"\\{(char)escape} escape {codePoint:X} is not a Unicode scalar value");
                    }

                    var written = rune.EncodeToUtf8(utf8);
                    output.Write(utf8[..written]);
                    break;
                case >= (byte)'0' and <= (byte)'7':
                    i--;
                    var octal = ParseOctal(body, ref i);
                    output.Write([(byte)octal]);
                    break;
                default:
                    throw new FormatException($"unknown escape \\{(char)escape}");
            }
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static uint ParseHex(ReadOnlySpan<byte> body, ref int index, int digits)
    {
        if (index + digits > body.Length)
        {
            throw new FormatException($"escape needs {digits} hex digits");
        }

        uint value = 0;
        for (var d = 0; d < digits; d++)
        {
            var c = body[index + d];
            uint digit = c switch
            {
                >= (byte)'0' and <= (byte)'9' => (uint)(c - '0'),
                >= (byte)'a' and <= (byte)'f' => (uint)(c - 'a' + 10),
                >= (byte)'A' and <= (byte)'F' => (uint)(c - 'A' + 10),
                _ => throw new FormatException($"'{(char)c}' is not a hex digit in an escape"),
            };
            value = (value << 4) | digit;
        }

        index += digits;
        return value;
    }

    private static uint ParseOctal(ReadOnlySpan<byte> body, ref int index)
    {
        if (index + 3 > body.Length)
        {
            throw new FormatException("octal escape needs 3 digits");
        }

        uint value = 0;
        for (var d = 0; d < 3; d++)
        {
            var c = body[index + d];
            if (c is < (byte)'0' or > (byte)'7')
            {
                throw new FormatException($"'{(char)c}' is not an octal digit in an escape");
            }

            value = (value << 3) | (uint)(c - '0');
        }

        if (value > 255)
        {
            throw new FormatException($"octal escape {value} is larger than a byte");
        }

        index += 3;
        return value;
    }
}
