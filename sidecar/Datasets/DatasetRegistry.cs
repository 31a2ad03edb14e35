using Fluid.Serverless.Sidecar.Configuration;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// Holds the served <see cref="DatasetSnapshot"/>: every request reads <see cref="Current"/> once and keeps it; the
/// config path (<see cref="ConfigApplier"/>, at start and on each live reload) builds the next snapshot and
/// <see cref="Publish"/>es it. The swap is one atomic reference write, then <see cref="Changed"/> fires so the
/// FUSE/copy views and prefetch follow.
/// </summary>
internal sealed partial class DatasetRegistry : IDatasetRegistry, IDatasetSnapshotPublisher
{
    private readonly ILogger<DatasetRegistry> _logger;
    private DatasetSnapshot _current = DatasetSnapshot.Empty;

    public DatasetRegistry(ILogger<DatasetRegistry> logger)
    {
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    public DatasetSnapshot Current => Volatile.Read(ref _current);

    /// <summary>True once a snapshot has been published (the readiness check "datasets").</summary>
    public bool HasPublished => Current.Generation > 0;

    public event Action<DatasetSnapshot>? Changed;

    void IDatasetSnapshotPublisher.Publish(DatasetSnapshot snapshot) => Publish(snapshot);

    internal void Publish(DatasetSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Volatile.Write(ref _current, snapshot);
        LogPublished(_logger, snapshot.Generation, snapshot.Datasets.Count, string.Join(", ", snapshot.Datasets.Keys.Order(StringComparer.Ordinal)));
        Changed?.Invoke(snapshot);
    }

    [LoggerMessage(EventId = EventIds.DatasetsPublished, Level = LogLevel.Information, Message = "Serving dataset generation {Generation}: {Count} dataset(s): {Names}")]
    private static partial void LogPublished(ILogger logger, long generation, int count, string names);
}
