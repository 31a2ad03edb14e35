using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Json;

public sealed class JsonPatchDiffTests
{
    [Theory]
    [InlineData("a/b", "a~1b")]
    [InlineData("m~n", "m~0n")]
    [InlineData("~1", "~01")] // '~' first, else "~1" would be read back as '/'
    [InlineData("plain", "plain")]
    public void Escape_Rfc6901_TildeThenSlash(string token, string escaped)
    {
        Assert.Equal(escaped, JsonPointer.Escape(token));
        Assert.Equal(token, JsonPointer.Unescape(escaped));
    }

    [Fact]
    public void Diff_InsertNamedElementFirst_SingleAddAndNestedChanges()
    {
        var original = Parse("""{"containers":[{"name":"app","env":[{"name":"A","value":"1"}]}]}""");
        var mutated = Parse("""{"containers":[{"name":"sidecar"},{"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}""");

        var patch = JsonPatchDiff.Diff(original, mutated);

        Assert.Equal(["add /containers/0", "add /containers/1/env/1"], patch.Select(p => $"{p.Op} {p.Path}"));
        Assert.True(JsonNode.DeepEquals(mutated, JsonPatchApplier.Apply(original, JsonPatchDiff.ToJsonArray(patch))));
    }

    [Fact]
    public void Diff_ManagedFieldsChanged_NeverPatched()
    {
        var original = Parse("""{"metadata":{"managedFields":[{"manager":"a"}],"labels":{}}}""");
        var mutated = Parse("""{"metadata":{"managedFields":[{"manager":"b"}],"labels":{"x/y":"1"}}}""");

        var patch = JsonPatchDiff.Diff(original, mutated);

        Assert.Equal(["add /metadata/labels/x~1y"], patch.Select(p => $"{p.Op} {p.Path}"));
    }

    [Fact]
    public void Diff_ReorderedNamedElements_ReplacesArrayCorrectly()
    {
        var original = Parse("""{"v":[{"name":"a"},{"name":"b"}]}""");
        var mutated = Parse("""{"v":[{"name":"b"},{"name":"a"}]}""");

        var patch = JsonPatchDiff.ToJsonArray(JsonPatchDiff.Diff(original, mutated));

        Assert.True(JsonNode.DeepEquals(mutated, JsonPatchApplier.Apply(original, patch)));
    }

    [Fact]
    public void Diff_RemovedAndAddedKeysAndUnnamedArrays_RoundTrips()
    {
        var original = Parse("""{"a":1,"b":{"c":[1,2,3]},"d":[{"x":1},{"x":2}],"n":null}""");
        var mutated = Parse("""{"b":{"c":[1,2]},"d":[{"x":1},{"x":3},{"x":4}],"n":"now","e":true}""");

        var patch = JsonPatchDiff.ToJsonArray(JsonPatchDiff.Diff(original, mutated));

        Assert.True(JsonNode.DeepEquals(mutated, JsonPatchApplier.Apply(original, patch)));
    }

    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;
}
