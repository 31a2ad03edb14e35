using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// Objects of one kind as their watch last saw them, kept whole except <c>managedFields</c> (the controller reads their
/// status: a DataLoad's phase, a Job's succeeded/failed counts).
/// </summary>
internal sealed class ObjectCache
{
    private readonly ConcurrentDictionary<(string Namespace, string Name), JsonObject> _objects = new();

    public int Count => _objects.Count;

    public IReadOnlyList<(string Namespace, string Name)> Keys => [.. _objects.Keys];

    public JsonObject? Find(string @namespace, string name) => _objects.GetValueOrDefault((@namespace, name));

    /// <summary>The objects of a namespace in name order.</summary>
    public IReadOnlyList<JsonObject> InNamespace(string @namespace) =>
        [.. _objects.Where(o => o.Key.Namespace == @namespace).OrderBy(o => o.Key.Name, StringComparer.Ordinal).Select(o => o.Value)];

    public void Set(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        (copy["metadata"] as JsonObject)?.Remove("managedFields");
        var metadata = copy.Obj("metadata");
        _objects[(metadata.Str("namespace") ?? "default", metadata.Str("name") ?? "")] = copy;
    }

    public void Remove(string @namespace, string name) => _objects.TryRemove((@namespace, name), out _);

    public void Clear() => _objects.Clear();
}
