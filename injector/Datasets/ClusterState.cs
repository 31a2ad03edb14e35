using System.Collections.Concurrent;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>A persistent volume claim as far as dataset detection cares.</summary>
internal sealed record ClaimInfo(string Namespace, string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// What admission knows about the cluster: filled by the watch caches (or by a file in offline mode and tests),
/// read by admission without any API call. Each map is replaced entry by entry, so readers never see a torn object.
/// </summary>
internal sealed class ClusterState
{
    private readonly ConcurrentDictionary<(string Namespace, string Name), FluidDataset> _datasets = new();
    private readonly ConcurrentDictionary<(string Namespace, string Name), ClaimInfo> _claims = new();
    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, string>> _namespaceLabels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Namespace, string Name), InjectionPolicy> _policies = new();
    private readonly ConcurrentDictionary<(string Namespace, string Name), FluidRuntime> _alluxioRuntimes = new();

    // per-namespace policies, sorted by name, rebuilt on change (rare) so admission (frequent) only reads an array
    private readonly ConcurrentDictionary<string, InjectionPolicy[]> _policiesByNamespace = new(StringComparer.Ordinal);
    private readonly Lock _policyLock = new();

    /// <summary>Injected pods (watched only while the controller runs).</summary>
    public InjectedPods Pods { get; } = new();

    /// <summary>DataLoads (<c>data.fluid.io/v1alpha1</c>; watched only while the controller runs).</summary>
    public ObjectCache DataLoads { get; } = new();

    /// <summary>The Jobs the controller started for DataLoads (label <c>serverless.fluid.io/dataload</c>; watched only while the controller runs).</summary>
    public ObjectCache DataLoadJobs { get; } = new();

    /// <summary>Raised after a watched object changed in this cache.</summary>
    public ClusterChanges Changes { get; } = new();

    public FluidDataset? FindDataset(string @namespace, string name) => _datasets.GetValueOrDefault((@namespace, name));

    /// <summary>A runtime by Fluid's type name (status.runtimes[].type of a Dataset); only alluxio is cached.</summary>
    public FluidRuntime? FindRuntime(string type, string @namespace, string name) =>
        type == "alluxio" ? _alluxioRuntimes.GetValueOrDefault((@namespace, name)) : null;

    public void SetAlluxioRuntime(FluidRuntime runtime) => _alluxioRuntimes[(runtime.Namespace, runtime.Name)] = runtime;

    public void RemoveAlluxioRuntime(string @namespace, string name) => _alluxioRuntimes.TryRemove((@namespace, name), out _);

    public ClaimInfo? FindClaim(string @namespace, string name) => _claims.GetValueOrDefault((@namespace, name));

    public IReadOnlyDictionary<string, string> NamespaceLabels(string @namespace) =>
        _namespaceLabels.TryGetValue(@namespace, out var labels) ? labels : new Dictionary<string, string>();

    /// <summary>Policies of a namespace in name order: the first that selects a pod wins, so the outcome is deterministic.</summary>
    public IReadOnlyList<InjectionPolicy> Policies(string @namespace) =>
        _policiesByNamespace.TryGetValue(@namespace, out var policies) ? policies : [];

    public void SetDataset(FluidDataset dataset) => _datasets[(dataset.Namespace, dataset.Name)] = dataset;

    public void RemoveDataset(string @namespace, string name) => _datasets.TryRemove((@namespace, name), out _);

    public void SetClaim(ClaimInfo claim) => _claims[(claim.Namespace, claim.Name)] = claim;

    public void RemoveClaim(string @namespace, string name) => _claims.TryRemove((@namespace, name), out _);

    public void SetNamespace(string name, IReadOnlyDictionary<string, string> labels) => _namespaceLabels[name] = labels;

    public void RemoveNamespace(string name) => _namespaceLabels.TryRemove(name, out _);

    public void SetPolicy(InjectionPolicy policy)
    {
        lock (_policyLock)
        {
            _policies[(policy.Namespace, policy.Name)] = policy;
            RebuildPolicies(policy.Namespace);
        }
    }

    public void RemovePolicy(string @namespace, string name)
    {
        lock (_policyLock)
        {
            _policies.TryRemove((@namespace, name), out _);
            RebuildPolicies(@namespace);
        }
    }

    private void RebuildPolicies(string @namespace) =>
        _policiesByNamespace[@namespace] = [.. _policies.Values.Where(p => p.Namespace == @namespace).OrderBy(p => p.Name, StringComparer.Ordinal)];

    /// <summary>Keys of every cached object of a kind (namespace "" for Namespaces).</summary>
    public IReadOnlyList<(string Namespace, string Name)> Keys(string kind) => kind switch
    {
        "Dataset" => [.. _datasets.Keys],
        "PersistentVolumeClaim" => [.. _claims.Keys],
        "Namespace" => [.. _namespaceLabels.Keys.Select(name => ("", name))],
        "InjectionPolicy" => [.. _policies.Keys],
        "Pod" => Pods.Keys,
        FluidDataLoad.Kind => DataLoads.Keys,
        "Job" => DataLoadJobs.Keys,
        FluidRuntime.AlluxioKind => [.. _alluxioRuntimes.Keys],
        _ => [],
    };

    public void Clear()
    {
        _datasets.Clear();
        _claims.Clear();
        _namespaceLabels.Clear();
        Pods.Clear();
        DataLoads.Clear();
        DataLoadJobs.Clear();
        _alluxioRuntimes.Clear();
        lock (_policyLock)
        {
            _policies.Clear();
            _policiesByNamespace.Clear();
        }
    }

    public int DatasetCount => _datasets.Count;
    public int ClaimCount => _claims.Count;
    public int NamespaceCount => _namespaceLabels.Count;
    public int PolicyCount => _policies.Count;
}
