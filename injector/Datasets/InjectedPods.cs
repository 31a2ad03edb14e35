using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// Pods the injector has injected (label <c>done.sidecar.fluid.io/inject: "true"</c>), as the pod watch last saw them:
/// metadata and spec (no managedFields), which is what recomputing a pod's sidecar config reads, and of the status only
/// the pod IP, where the DataLoad controller reads the sidecar's warm-up progress.
/// </summary>
internal sealed class InjectedPods
{
    private readonly ConcurrentDictionary<(string Namespace, string Name), JsonObject> _pods = new();

    public int Count => _pods.Count;

    public IReadOnlyList<(string Namespace, string Name)> Keys => [.. _pods.Keys];

    public JsonObject? Find(string @namespace, string name) => _pods.GetValueOrDefault((@namespace, name));

    /// <summary>The pods of a namespace, in name order (a reconcile pass walks them deterministically).</summary>
    public IReadOnlyList<JsonObject> InNamespace(string @namespace) =>
        [.. _pods.Where(p => p.Key.Namespace == @namespace).OrderBy(p => p.Key.Name, StringComparer.Ordinal).Select(p => p.Value)];

    public void Set(JsonObject pod)
    {
        var trimmed = new JsonObject
        {
            ["metadata"] = pod.Obj("metadata")?.DeepClone(),
            ["spec"] = pod.Obj("spec")?.DeepClone(),
        };
        (trimmed["metadata"] as JsonObject)?.Remove("managedFields");
        if (pod.Obj("status").Str("podIP") is { Length: > 0 } podIp)
        {
            trimmed["status"] = new JsonObject { ["podIP"] = podIp };
        }

        var metadata = trimmed.Obj("metadata");
        _pods[(metadata.Str("namespace") ?? "default", metadata.Str("name") ?? "")] = trimmed;
    }

    public void Remove(string @namespace, string name) => _pods.TryRemove((@namespace, name), out _);

    public void Clear() => _pods.Clear();
}

/// <summary>A watched object that was added, changed or removed.</summary>
internal sealed record ClusterChange(string Kind, string Namespace, string Name, bool Removed);

/// <summary>Tells listeners (the controller) which cached objects changed, after the cache holds the new state.</summary>
internal sealed class ClusterChanges
{
    private readonly Lock _lock = new();
    private Action<ClusterChange>[] _listeners = [];

    public IDisposable Subscribe(Action<ClusterChange> listener)
    {
        lock (_lock)
        {
            _listeners = [.. _listeners, listener];
        }

        return new Subscription(this, listener);
    }

    public void Publish(ClusterChange change)
    {
        foreach (var listener in Volatile.Read(ref _listeners))
        {
            listener(change);
        }
    }

    private void Unsubscribe(Action<ClusterChange> listener)
    {
        lock (_lock)
        {
            _listeners = [.. _listeners.Where(l => l != listener)];
        }
    }

    private sealed class Subscription(ClusterChanges owner, Action<ClusterChange> listener) : IDisposable
    {
        public void Dispose() => owner.Unsubscribe(listener);
    }
}
