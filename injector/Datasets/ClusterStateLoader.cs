using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>Fills a <see cref="ClusterState"/> from manifests (Datasets, PVCs, Namespaces, InjectionPolicies):
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
            default:
                return false;
        }
    }
}
