using Fluid.Serverless.Sidecar.Datasets;

namespace FuseBench;

/// <summary>One fixed dataset (the bench does not reload config).</summary>
internal sealed class FixedRegistry(Dataset dataset) : IDatasetRegistry
{
    public DatasetSnapshot Current { get; } = new(new Dictionary<string, Dataset>(StringComparer.Ordinal) { [dataset.Name] = dataset }, 1);

    public event Action<DatasetSnapshot>? Changed
    {
        add { }
        remove { }
    }
}
