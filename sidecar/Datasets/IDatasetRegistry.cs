namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// The datasets currently served, by bucket name. Swapped atomically on a live config change: a reader takes a
/// snapshot (<see cref="Current"/>) and keeps using it for the rest of its request.
/// </summary>
internal interface IDatasetRegistry
{
    DatasetSnapshot Current { get; }

    /// <summary>Raised after a new snapshot is in place (FUSE/copy views and prefetch follow it).</summary>
    event Action<DatasetSnapshot>? Changed;
}

/// <summary>An immutable set of datasets.</summary>
internal sealed class DatasetSnapshot(IReadOnlyDictionary<string, Dataset> datasets, long generation)
{
    public IReadOnlyDictionary<string, Dataset> Datasets { get; } = datasets;
    public long Generation { get; } = generation;

    public bool TryGet(string name, out Dataset dataset) => Datasets.TryGetValue(name, out dataset!);

    public static readonly DatasetSnapshot Empty = new(new Dictionary<string, Dataset>(StringComparer.Ordinal), 0);
}
