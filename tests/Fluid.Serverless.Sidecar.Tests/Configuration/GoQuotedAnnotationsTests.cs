using System.Text;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public class GoQuotedAnnotationsTests
{
    [Theory]
    [InlineData("\"plain\"", "plain")]
    [InlineData("\"\"", "")]
    [InlineData("\"say \\\"hi\\\"\"", "say \"hi\"")]
    [InlineData("\"back\\\\slash\"", "back\\slash")]
    [InlineData("\"a\\nb\\tc\\rd\"", "a\nb\tc\rd")]
    [InlineData("\"\\a\\b\\f\\v\"", "\a\b\f\v")]
    [InlineData("\"\\u00e9t\\u00E9\"", "été")]
    [InlineData("\"\\U0001F600\"", "😀")]
    [InlineData("\"\\xc3\\xa9\"", "é")]
    [InlineData("\"\\303\\251\"", "é")]
    [InlineData("\"\\x41\\101\"", "AA")]
    [InlineData("\"{\\\"version\\\":1}\"", "{\"version\":1}")]
    [InlineData("\"日本語 stays UTF-8\"", "日本語 stays UTF-8")]
    public void Unquote_GoQuotedValue_GivesOriginal(string quoted, string expected) =>
        Assert.Equal(expected, GoQuotedAnnotations.Unquote(Encoding.UTF8.GetBytes(quoted)));

    [Theory]
    [InlineData("plain", "double-quoted")]
    [InlineData("\"open", "double-quoted")]
    [InlineData("\"a\"b\"", "unescaped quote")]
    [InlineData("\"\\q\"", "unknown escape \\q")]
    [InlineData("\"\\'\"", "unknown escape \\'")]
    [InlineData("\"\\x4\"", "hex digits")]
    [InlineData("\"\\xZZ\"", "not a hex digit")]
    [InlineData("\"\\uD800\"", "not a Unicode scalar value")]
    [InlineData("\"\\U00110000\"", "not a Unicode scalar value")]
    [InlineData("\"\\400\"", "larger than a byte")]
    [InlineData("\"\\18\"", "octal")]
    [InlineData("\"ends\\\"", "ends inside an escape")]
    public void Unquote_Malformed_ThrowsSayingWhat(string quoted, string expected)
    {
        var error = Assert.Throws<FormatException>(() => GoQuotedAnnotations.Unquote(Encoding.UTF8.GetBytes(quoted)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KubeletFile_GivesEveryAnnotationWithSlashedKeys()
    {
        // As kubelet writes it: keys sorted, one per line, Go-quoted values, trailing newline.
        var file = """
            kubernetes.io/config.seen="2026-11-28T13:00:00.000000000Z"
            kubernetes.io/config.source="api"
            serverless.fluid.io/sidecar-config="{\"version\":1,\"datasets\":[{\"name\":\"imagenet\",\"source\":\"s3://bucket/train/\"}]}"
            note="line1\nline2\ttabbed \u00e9"

            """;

        var annotations = GoQuotedAnnotations.Parse(Encoding.UTF8.GetBytes(file));

        Assert.Equal(4, annotations.Count);
        Assert.Equal("api", annotations["kubernetes.io/config.source"]);
        Assert.Equal("{\"version\":1,\"datasets\":[{\"name\":\"imagenet\",\"source\":\"s3://bucket/train/\"}]}", annotations["serverless.fluid.io/sidecar-config"]);
        Assert.Equal("line1\nline2\ttabbed é", annotations["note"]);
    }

    [Fact]
    public void Parse_CrLfLines_Accepted()
    {
        var annotations = GoQuotedAnnotations.Parse("a=\"1\"\r\nb=\"2\"\r\n"u8);
        Assert.Equal("1", annotations["a"]);
        Assert.Equal("2", annotations["b"]);
    }

    [Theory]
    [InlineData("a=\"1\"\nno-equals-sign\n", "line 2", "key=\"value\"")]
    [InlineData("=\"1\"\n", "line 1", "key=\"value\"")]
    [InlineData("a=\"1\"\nb=\"\\z\"\n", "line 2 (key 'b')", "unknown escape")]
    [InlineData("a=\"1\"\na=\"2\"\n", "line 2", "appears twice")]
    [InlineData("a=unquoted\n", "line 1 (key 'a')", "double-quoted")]
    public void Parse_BadLine_ErrorNamesLineAndKey(string file, string where, string what)
    {
        var error = Assert.Throws<FormatException>(() => GoQuotedAnnotations.Parse(Encoding.UTF8.GetBytes(file)));
        Assert.Contains(where, error.Message, StringComparison.Ordinal);
        Assert.Contains(what, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EveryCharacterQuotedGoStyle_RoundTrips()
    {
        // Every character below U+0800 and two astral ones, quoted with strconv.Quote's escape forms (see GoQuote).
        var original = new string([.. Enumerable.Range(0, 0x800).Select(i => (char)i).Where(c => !char.IsSurrogate(c))]) + "😀𝄞";
        var file = "k=" + GoQuote(original) + "\n";

        var annotations = GoQuotedAnnotations.Parse(Encoding.UTF8.GetBytes(file));

        Assert.Equal(original, annotations["k"]);
    }

    /// <summary>strconv.Quote's escape forms: short escapes, \xHH for ASCII controls, \u for C1 controls, \U for unassigned astral runes.</summary>
    private static string GoQuote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var rune in value.EnumerateRunes())
        {
            var c = rune.Value;
            sb.Append(c switch
            {
                '\a' => "\\a",
                '\b' => "\\b",
                '\f' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\v' => "\\v",
                '\\' => "\\\\",
                '"' => "\\\"",
                < 0x20 or 0x7f => $"\\x{c:x2}",
                >= 0x80 and < 0xa0 => $"\\u{c:x4}",
                > 0xffff when Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.OtherNotAssigned => $"\\U{c:x8}",
                _ => rune.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }
}
