using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>Fills a <see cref="ClusterState"/> from manifests (Datasets, PVCs, Namespaces, InjectionPolicies, AlluxioRuntimes):
/// the offline tool's --cluster file, test fixtures, and every object a watch delivers.</summary>
internal static class ClusterStateLoader
{
    public static void LoadYaml(ClusterState state, string yaml)
    {
        foreach (var document in YamlJson.ParseDocuments(yaml))
        {
            if (document is JsonObject obj)
            {
                if (obj.Str("kind") == "List")
                {
                    foreach (var item in obj.Arr("items").Objects())
                    {
                        Apply(state, item);
                    }
                }
                else
                {
                    Apply(state, obj);
                }
            }
        }
    }

    /// <summary>Adds or replaces one object; kinds the injector does not cache are ignored.</summary>
    public static bool Apply(ClusterState state, JsonNode obj)
    {
        if (!Store(state, obj))
        {
            return false;
        }

        var (@namespace, name) = Key(obj);
        state.Changes.Publish(new ClusterChange(obj.Str("kind") ?? "", @namespace, name, Removed: false));
        return true;
    }

    private static bool Store(ClusterState state, JsonNode obj)
    {
        var metadata = obj.Obj("metadata");
        var name = metadata.Str("name") ?? "";
        var @namespace = metadata.Str("namespace") ?? "default";
        switch (obj.Str("kind"))
        {
            case "Dataset":
                state.SetDataset(FluidDataset.FromJson(obj));
                return true;
            case "PersistentVolumeClaim":
                state.SetClaim(new ClaimInfo(@namespace, name, metadata.StringMap("labels")));
                return true;
            case "Namespace":
                state.SetNamespace(name, metadata.StringMap("labels"));
                return true;
            case "InjectionPolicy":
                state.SetPolicy(InjectionPolicy.FromJson(obj));
                return true;
            case "Pod" when obj is JsonObject pod:
                state.Pods.Set(pod);
                return true;
            case FluidRuntime.AlluxioKind:
                state.SetAlluxioRuntime(FluidRuntime.FromAlluxioJson(obj));
                return true;
            case FluidDataLoad.Kind when obj is JsonObject dataLoad:
                state.DataLoads.Set(dataLoad);
                return true;
            case "Job" when obj is JsonObject job:
                state.DataLoadJobs.Set(job);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Replaces every cached object of a kind with a fresh list (after a relist, objects deleted while the
    /// watch was down must disappear too).</summary>
    public static void ReplaceAll(ClusterState state, string kind, IReadOnlyList<JsonNode> items)
    {
        var keep = new HashSet<(string, string)>();
        foreach (var item in items)
        {
            var typed = item as JsonObject ?? [];
            typed["kind"] ??= kind;
            Apply(state, typed);
            keep.Add(Key(typed));
        }

        foreach (var key in state.Keys(kind))
        {
            if (!keep.Contains(key))
            {
                Remove(state, kind, key.Namespace, key.Name);
            }
        }
    }

    public static void Remove(ClusterState state, string kind, string @namespace, string name)
    {
        switch (kind)
        {
            case "Dataset":
                state.RemoveDataset(@namespace, name);
                break;
            case "PersistentVolumeClaim":
                state.RemoveClaim(@namespace, name);
                break;
            case "Namespace":
                state.RemoveNamespace(name);
                break;
            case "InjectionPolicy":
                state.RemovePolicy(@namespace, name);
                break;
            case FluidRuntime.AlluxioKind:
                state.RemoveAlluxioRuntime(@namespace, name);
                break;
            case "Pod":
                state.Pods.Remove(@namespace, name);
                break;
            case FluidDataLoad.Kind:
                state.DataLoads.Remove(@namespace, name);
                break;
            case "Job":
                state.DataLoadJobs.Remove(@namespace, name);
                break;
            default:
                return;
        }

        state.Changes.Publish(new ClusterChange(kind, @namespace, name, Removed: true));
    }

    public static (string Namespace, string Name) Key(JsonNode obj)
    {
        var metadata = obj.Obj("metadata");
        return obj.Str("kind") == "Namespace"
            ? ("", metadata.Str("name") ?? "")
            : (metadata.Str("namespace") ?? "default", metadata.Str("name") ?? "");
    }
}
