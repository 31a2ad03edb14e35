using System.Text;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

/// <summary>The annotations file as kubelet writes it, read by the one parser start-up and live reload share.</summary>
public sealed class DownwardApiAnnotationsFileTests
{
    // What kubelet writes: one key="value" line per annotation, values quoted by Go's strconv.Quote.
    private const string AnnotationsFile = """
        kubernetes.io/config.seen="2026-11-28T13:00:00.000000000Z"
        serverless.fluid.io/sidecar-config="{\"datasets\":[{\"name\":\"demo\",\"source\":\"local:///data\"}],\n\t\"mode\":\"s3\"}"
        weird="caf\u00e9 \xc3\xa9 \U0001F600 \\ \" \a\b\f\r\v \101 ünï"
        """;

    [Fact]
    public void Find_SidecarConfig_UnquotesGoEscapes()
    {
        var value = Find(AnnotationsFile, "serverless.fluid.io/sidecar-config");

        Assert.Equal("{\"datasets\":[{\"name\":\"demo\",\"source\":\"local:///data\"}],\n\t\"mode\":\"s3\"}", value);
    }

    [Fact]
    public void Find_AllGoEscapeForms_Decode()
    {
        Assert.Equal("café é 😀 \\ \" \a\b\f\r\v A ünï", Find(AnnotationsFile, "weird"));
    }

    [Fact]
    public void Find_MissingKey_ReturnsNull()
    {
        Assert.Null(Find(AnnotationsFile, "serverless.fluid.io/other"));
    }

    [Theory]
    [InlineData("k=unquoted")]
    [InlineData("k=\"bad \\q escape\"")]
    [InlineData("k=\"ends in \\")]
    [InlineData("k=\"\\u12\"")]
    public void Find_MalformedValue_ThrowsFormatExceptionNamingTheKey(string line)
    {
        var error = Assert.Throws<FormatException>(() => Find(line, "k"));
        Assert.Contains("'k'", error.Message, StringComparison.Ordinal);
    }

    private static string? Find(string file, string key) =>
        GoQuotedAnnotations.Parse(Encoding.UTF8.GetBytes(file)).TryGetValue(key, out var value) ? value : null;
}
