using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Datasets that injected pods were admitted with, or that an InjectionPolicy names, and that no longer exist. The
/// running sidecars keep the source they started with, but Dataset edits cannot reach them, and every new pod that
/// asks for the Dataset is denied. (A pod not yet injected that names one is reported with its denial.)
/// </summary>
internal sealed class MissingDatasetAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var missing = new List<(JsonObject, string)>();
        foreach (var pod in snapshot.LivePods())
        {
            if (ClusterSnapshot.InjectionStatus(pod) is null)
            {
                continue;
            }

            var @namespace = ClusterSnapshot.NamespaceOf(pod);
            missing.AddRange(snapshot.ReferencedDatasets(pod).Where(d => snapshot.State.FindDataset(@namespace, d) is null).Select(d => (pod, d)));
        }

        foreach (var (workload, dataset, pods) in Workloads.Group(missing, snapshot))
        {
            yield return new Finding(FindingCodes.DatasetMissing, Severity.Error, workload,
                $"{Workloads.Describe(workload, pods.Count)} {Workloads.Verb(pods.Count, "uses", "use")} Dataset '{dataset}', which does not exist in namespace '{workload.Namespace}': "
                + "the running sidecars keep the source they started with, Dataset edits cannot reach them, and new pods are denied",
                $"create Dataset {workload.Namespace}/{dataset} again, or remove it from the workload", pods);
        }

        foreach (var policy in snapshot.State.Keys("InjectionPolicy").Order().SelectMany(k => snapshot.State.Policies(k.Namespace).Where(p => p.Name == k.Name)))
        {
            if (!policy.Defaults.TryGetValue(Annotations.Datasets, out var names))
            {
                continue;
            }

            foreach (var dataset in names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.Split(':')[0]).Distinct(StringComparer.Ordinal))
            {
                if (snapshot.State.FindDataset(policy.Namespace, dataset) is null)
                {
                    yield return new Finding(FindingCodes.DatasetMissing, Severity.Error, new ObjectRef("InjectionPolicy", policy.Namespace, policy.Name),
                        $"spec.datasets names Dataset '{dataset}', which does not exist in namespace '{policy.Namespace}': every pod the policy injects is denied",
                        $"create Dataset {policy.Namespace}/{dataset}, or remove it from spec.datasets");
                }
            }
        }
    }
}
