using Fluid.Serverless.Sidecar.Datasets;

namespace Fluid.Serverless.Testing;

/// <summary>A registry whose snapshot the test replaces, raising <see cref="Changed"/> like the real one.</summary>
internal sealed class StandInDatasetRegistry : IDatasetRegistry
{
    private DatasetSnapshot _current = DatasetSnapshot.Empty;
    private long _generation;

    public DatasetSnapshot Current => Volatile.Read(ref _current);

    public event Action<DatasetSnapshot>? Changed;

    public void Publish(DatasetSnapshot snapshot)
    {
        Volatile.Write(ref _current, snapshot);
        Changed?.Invoke(snapshot);
    }

    /// <summary>Publishes these datasets as the next generation.</summary>
    public void Set(params Dataset[] datasets) =>
        Publish(new DatasetSnapshot(datasets.ToDictionary(d => d.Name, StringComparer.Ordinal), Interlocked.Increment(ref _generation)));
}
