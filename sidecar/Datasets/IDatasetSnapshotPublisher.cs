using Fluid.Serverless.Sidecar.Datasets;

namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// The write side of the dataset registry: where <see cref="ConfigApplier"/> puts a new snapshot. Kept apart from
/// <see cref="IDatasetRegistry"/> (the read side every request uses) so only the config path can swap datasets.
/// The registry implementation publishes atomically and then raises <see cref="IDatasetRegistry.Changed"/>.
/// </summary>
internal interface IDatasetSnapshotPublisher
{
    DatasetSnapshot Current { get; }

    void Publish(DatasetSnapshot snapshot);
}
