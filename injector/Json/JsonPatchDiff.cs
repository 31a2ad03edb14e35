using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fluid.Serverless.Injector.Json;

/// <summary>One RFC 6902 operation: add, remove or replace (the diff never needs move/copy/test).</summary>
internal sealed record JsonPatchOperation(string Op, string Path, JsonNode? Value)
{
    public JsonObject ToJson()
    {
        var obj = new JsonObject { ["op"] = Op, ["path"] = Path };
        if (Op != "remove")
        {
            obj["value"] = Value?.DeepClone();
        }

        return obj;
    }
}

/// <summary>
/// Builds the JSON Patch that turns the original object into the mutated one. Diffing the two trees (instead of
/// writing pointers by hand in each mutator) makes the patch exactly right by construction.
/// Arrays whose elements all carry a unique "name" (containers, volumes, env) are matched by name, so inserting
/// a sidecar or an env var yields one "add" instead of a cascade of replaces.
/// The walk keeps the pointer as a stack of segments and writes it out only for an operation: a pod with thousands
/// of env vars and few changes would otherwise build a pointer string per unchanged node.
/// </summary>
internal static class JsonPatchDiff
{
    /// <summary>Paths the webhook must never patch: the API server owns them.</summary>
    private static readonly string[][] IgnoredPaths = [["metadata", "managedFields"]];

    public static List<JsonPatchOperation> Diff(JsonNode? original, JsonNode? mutated)
    {
        var operations = new List<JsonPatchOperation>();
        DiffNode(original, mutated, new JsonPointerPath(), operations);
        return operations;
    }

    private static bool IsIgnored(JsonPointerPath path)
    {
        foreach (var ignored in IgnoredPaths)
        {
            if (path.Is(ignored))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes the operations as a JSON array straight from the trees they point into: the same bytes as serializing
    /// <see cref="ToJsonArray"/>, without deep-copying every added value first.
    /// </summary>
    public static void WriteTo(Utf8JsonWriter writer, IEnumerable<JsonPatchOperation> operations)
    {
        writer.WriteStartArray();
        foreach (var operation in operations)
        {
            writer.WriteStartObject();
            writer.WriteString("op", operation.Op);
            writer.WriteString("path", operation.Path);
            if (operation.Op != "remove")
            {
                writer.WritePropertyName("value");
                if (operation.Value is null)
                {
                    writer.WriteNullValue();
                }
                else
                {
                    operation.Value.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    public static JsonArray ToJsonArray(IEnumerable<JsonPatchOperation> operations)
    {
        var array = new JsonArray();
        foreach (var operation in operations)
        {
            array.Add(operation.ToJson());
        }

        return array;
    }

    private static void DiffNode(JsonNode? original, JsonNode? mutated, JsonPointerPath path, List<JsonPatchOperation> operations)
    {
        if (IsIgnored(path))
        {
            return;
        }

        switch (original, mutated)
        {
            case (JsonObject from, JsonObject to):
                DiffObject(from, to, path, operations);
                break;
            case (JsonArray from, JsonArray to):
                DiffArray(from, to, path, operations);
                break;
            default:
                if (!JsonNode.DeepEquals(original, mutated))
                {
                    operations.Add(new JsonPatchOperation("replace", path.ToString(), mutated));
                }

                break;
        }
    }

    private static void DiffObject(JsonObject from, JsonObject to, JsonPointerPath path, List<JsonPatchOperation> operations)
    {
        foreach (var (key, _) in from)
        {
            if (!to.ContainsKey(key))
            {
                path.Push(key);
                if (!IsIgnored(path))
                {
                    operations.Add(new JsonPatchOperation("remove", path.ToString(), null));
                }

                path.Pop();
            }
        }

        foreach (var (key, value) in to)
        {
            path.Push(key);
            if (from.TryGetPropertyValue(key, out var old))
            {
                DiffNode(old, value, path, operations);
            }
            else if (!IsIgnored(path))
            {
                operations.Add(new JsonPatchOperation("add", path.ToString(), value));
            }

            path.Pop();
        }
    }

    private static void DiffArray(JsonArray from, JsonArray to, JsonPointerPath path, List<JsonPatchOperation> operations)
    {
        if (UniqueNames(from) is { } fromNames && UniqueNames(to) is { } toNames)
        {
            if (TryDiffByName(from, to, fromNames, toNames, path, operations))
            {
                return;
            }
        }
        else if (from.Count <= to.Count)
        {
            // positional: common elements diff in place, extra ones are appended
            for (var i = 0; i < from.Count; i++)
            {
                path.Push(i);
                DiffNode(from[i], to[i], path, operations);
                path.Pop();
            }

            for (var i = from.Count; i < to.Count; i++)
            {
                operations.Add(new JsonPatchOperation("add", path.ToString(i), to[i]));
            }

            return;
        }

        operations.Add(new JsonPatchOperation("replace", path.ToString(), to));
    }

    /// <summary>Matches elements by name. Returns false when the mutation reordered surviving elements (never done by
    /// the injector), in which case the caller replaces the whole array.</summary>
    private static bool TryDiffByName(JsonArray from, JsonArray to, List<string> fromNames, List<string> toNames, JsonPointerPath path, List<JsonPatchOperation> operations)
    {
        var toSet = new HashSet<string>(toNames, StringComparer.Ordinal);
        var working = new List<string>(fromNames.Count);
        var workingNodes = new List<JsonNode?>(fromNames.Count);
        var pending = new List<JsonPatchOperation>();

        // removals first, from the end so earlier indices stay valid
        for (var i = fromNames.Count - 1; i >= 0; i--)
        {
            if (!toSet.Contains(fromNames[i]))
            {
                pending.Add(new JsonPatchOperation("remove", path.ToString(i), null));
            }
        }

        for (var i = 0; i < fromNames.Count; i++)
        {
            if (toSet.Contains(fromNames[i]))
            {
                working.Add(fromNames[i]);
                workingNodes.Add(from[i]);
            }
        }

        var position = 0;
        for (var i = 0; i < toNames.Count; i++)
        {
            if (position < working.Count && working[position] == toNames[i])
            {
                path.Push(i);
                DiffNode(workingNodes[position], to[i], path, pending);
                path.Pop();
                position++;
            }
            else if (working.IndexOf(toNames[i], position) >= 0)
            {
                return false; // reordered
            }
            else
            {
                pending.Add(new JsonPatchOperation("add", path.ToString(i), to[i]));
            }
        }

        operations.AddRange(pending);
        return true;
    }

    private static List<string>? UniqueNames(JsonArray array)
    {
        var names = new List<string>(array.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in array)
        {
            if (item.Str("name") is not { } name || !seen.Add(name))
            {
                return null;
            }

            names.Add(name);
        }

        return names;
    }
}
