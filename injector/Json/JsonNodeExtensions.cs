using System.Text.Json.Nodes;

namespace Fluid.Serverless.Injector.Json;

/// <summary>Small helpers for walking and building Kubernetes objects held as <see cref="JsonNode"/>s.
/// The injector works on JSON trees rather than typed models so that fields it does not know survive untouched.</summary>
internal static class JsonNodeExtensions
{
    public static JsonObject? Obj(this JsonNode? node, string key) => (node as JsonObject)?[key] as JsonObject;

    public static JsonArray? Arr(this JsonNode? node, string key) => (node as JsonObject)?[key] as JsonArray;

    public static string? Str(this JsonNode? node, string key) =>
        (node as JsonObject)?[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public static bool? Bool(this JsonNode? node, string key) =>
        (node as JsonObject)?[key] is JsonValue value && value.TryGetValue<bool>(out var flag) ? flag : null;

    /// <summary>Gets the child object, creating it when absent.</summary>
    public static JsonObject EnsureObj(this JsonObject node, string key)
    {
        if (node[key] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        node[key] = created;
        return created;
    }

    /// <summary>Gets the child array, creating it when absent.</summary>
    public static JsonArray EnsureArr(this JsonObject node, string key)
    {
        if (node[key] is JsonArray existing)
        {
            return existing;
        }

        var created = new JsonArray();
        node[key] = created;
        return created;
    }

    /// <summary>String map (labels, annotations) as a dictionary; non-string values are ignored.</summary>
    public static Dictionary<string, string> StringMap(this JsonNode? node, string key)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node.Obj(key) is { } map)
        {
            foreach (var (name, value) in map)
            {
                if (value is JsonValue scalar && scalar.TryGetValue<string>(out var text))
                {
                    result[name] = text;
                }
            }
        }

        return result;
    }

    public static IEnumerable<JsonObject> Objects(this JsonArray? array)
    {
        if (array is null)
        {
            yield break;
        }

        foreach (var item in array)
        {
            if (item is JsonObject obj)
            {
                yield return obj;
            }
        }
    }

    public static JsonArray ToJsonArray(this IEnumerable<string> items)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            array.Add(item);
        }

        return array;
    }
}
