using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Tests.Testing;

/// <summary>Applies an RFC 6902 patch (add/remove/replace) the way the API server does, strictly: a path that does not
/// exist fails, so a wrong patch cannot pass by accident. kubectl-golden-check.sh repeats this with Kubernetes' own code.</summary>
internal static class JsonPatchApplier
{
    public static JsonNode? Apply(JsonNode? document, JsonArray patch)
    {
        var root = document?.DeepClone();
        foreach (var operation in patch)
        {
            var op = operation!["op"]!.GetValue<string>();
            var tokens = JsonPointer.Parse(operation["path"]!.GetValue<string>());
            var value = operation["value"]?.DeepClone();
            if (tokens.Count == 0)
            {
                root = op == "remove" ? null : value;
                continue;
            }

            if (op == "test")
            {
                if (!JsonNode.DeepEquals(Navigate(root, tokens), value))
                {
                    throw new InvalidOperationException($"test {operation["path"]} failed");
                }

                continue;
            }

            var parent = Navigate(root, tokens.Take(tokens.Count - 1));
            var last = tokens[^1];
            switch (parent)
            {
                case JsonObject obj:
                    if (op is "remove" or "replace" && !obj.ContainsKey(last))
                    {
                        throw new InvalidOperationException($"{op} {operation["path"]}: no such member");
                    }

                    if (op == "remove")
                    {
                        obj.Remove(last);
                    }
                    else
                    {
                        obj[last] = value;
                    }

                    break;
                case JsonArray array:
                    var index = last == "-" ? array.Count : int.Parse(last, CultureInfo.InvariantCulture);
                    switch (op)
                    {
                        case "add":
                            if (index > array.Count)
                            {
                                throw new InvalidOperationException($"add {operation["path"]}: index out of range");
                            }

                            array.Insert(index, value);
                            break;
                        case "remove":
                            array.RemoveAt(index);
                            break;
                        case "replace":
                            array[index] = value;
                            break;
                    }

                    break;
                default:
                    throw new InvalidOperationException($"{op} {operation["path"]}: parent is not a container");
            }
        }

        return root;
    }

    private static JsonNode? Navigate(JsonNode? node, IEnumerable<string> tokens)
    {
        foreach (var token in tokens)
        {
            node = node switch
            {
                JsonObject obj => obj.TryGetPropertyValue(token, out var child) ? child : throw new InvalidOperationException($"no member '{token}'"),
                JsonArray array => array[int.Parse(token, CultureInfo.InvariantCulture)],
                _ => throw new InvalidOperationException($"cannot descend into '{token}'"),
            };
        }

        return node;
    }
}
