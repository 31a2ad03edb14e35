using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Tests.Json;

public sealed class YamlJsonTests
{
    [Fact]
    public void Parse_PlainAndQuotedScalars_TypedLikeKubernetes()
    {
        var document = YamlJson.ParseDocuments("""
            a: "true"
            b: true
            c: 8080
            d: "8080"
            e: 1.5
            f: null
            g: 10Gi
            h: '0755'
            """).Single()!;

        Assert.Equal("true", document["a"]!.GetValue<string>());
        Assert.True(document["b"]!.GetValue<bool>());
        Assert.Equal(8080, document["c"]!.GetValue<long>());
        Assert.Equal("8080", document["d"]!.GetValue<string>());
        Assert.Equal(1.5, document["e"]!.GetValue<double>());
        Assert.Null(document["f"]);
        Assert.Equal("10Gi", document["g"]!.GetValue<string>());
        Assert.Equal("0755", document["h"]!.GetValue<string>());
    }

    [Fact]
    public void Write_AmbiguousStrings_QuotedSoRoundTripKeepsTypes()
    {
        var original = (JsonObject)JsonNode.Parse("""{"s1":"true","s2":"123","s3":"","s4":"null","s5":"{\"json\":1}","s6":"multi\nline","n":7,"b":false,"list":["x",1]}""")!;

        var roundTripped = YamlJson.ParseDocuments(YamlJson.Write(original)).Single();

        Assert.True(JsonNode.DeepEquals(original, roundTripped), YamlJson.Write(original));
    }

    [Fact]
    public void Parse_MultipleDocumentsWithEmptyOnes_SkipsEmpty()
    {
        var documents = YamlJson.ParseDocuments("---\na: 1\n---\n---\nb: 2\n");
        Assert.Equal(2, documents.Count);
    }
}
