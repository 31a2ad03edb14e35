using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// Builds the served <see cref="DatasetSnapshot"/> from dataset configs (source from the <see cref="ISourceFactory"/>,
/// wrapped by the <see cref="ISourceDecorator"/>) and swaps it atomically. A new config is applied as a whole or not
/// at all: if any dataset cannot be built, the old snapshot keeps serving and the errors are returned. Datasets
/// whose config did not change keep their source object (and so their metadata cache and in-flight state).
/// </summary>
public sealed partial class DatasetRegistry : IDatasetRegistry, IAsyncDisposable
{
    private readonly ISourceFactory _sourceFactory;
    private readonly ISourceDecorator? _decorator;
    private readonly ILogger<DatasetRegistry> _logger;
    private readonly Lock _applyGate = new();
    private readonly List<IObjectSource> _retired = [];
    private Dictionary<string, string> _configFingerprints = new(StringComparer.Ordinal);
    private DatasetSnapshot _current = DatasetSnapshot.Empty;

    public DatasetRegistry(ISourceFactory sourceFactory, ILogger<DatasetRegistry> logger, ISourceDecorator? decorator = null)
    {
        _sourceFactory = sourceFactory ?? throw new ArgumentNullException(nameof(sourceFactory));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _decorator = decorator;
    }

    public DatasetSnapshot Current => Volatile.Read(ref _current);

    /// <summary>True once a config has been applied (the readiness check "datasets").</summary>
    public bool HasApplied { get; private set; }

    public event Action<DatasetSnapshot>? Changed;

    /// <summary>
    /// Builds and swaps in a snapshot of <paramref name="datasets"/>. Returns the errors (each naming the dataset);
    /// when there are any, nothing changed.
    /// </summary>
    public IReadOnlyList<string> Apply(IReadOnlyList<DatasetConfig> datasets)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        DatasetSnapshot snapshot;
        lock (_applyGate)
        {
            var old = Current;
            var built = new Dictionary<string, Dataset>(StringComparer.Ordinal);
            var fingerprints = new Dictionary<string, string>(StringComparer.Ordinal);
            var created = new List<IObjectSource>();
            var errors = new List<string>();
            for (var i = 0; i < datasets.Count; i++)
            {
                var config = datasets[i];
                var fingerprint = JsonSerializer.Serialize(config, ContractsJsonContext.Default.DatasetConfig);
                fingerprints[config.Name] = fingerprint;
                if (old.TryGet(config.Name, out var existing)
                    && _configFingerprints.TryGetValue(config.Name, out var oldFingerprint)
                    && oldFingerprint == fingerprint)
                {
                    built[config.Name] = existing;
                    continue;
                }

                try
                {
                    var raw = _sourceFactory.Create(config);
                    created.Add(raw);
                    var source = _decorator?.Decorate(config, raw) ?? raw;
                    built[config.Name] = new Dataset(config, source);
                }
                catch (ArgumentException e)
                {
                    errors.Add($"datasets[{i}] ('{config.Name}'): {e.Message}");
                }
            }

            if (errors.Count > 0)
            {
                foreach (var source in created)
                {
                    _ = source.DisposeAsync();
                }

                return errors;
            }

            // Sources that left the snapshot may still serve in-flight requests: keep them until disposal.
            foreach (var (name, dataset) in old.Datasets)
            {
                if (!built.TryGetValue(name, out var kept) || !ReferenceEquals(kept, dataset))
                {
                    _retired.Add(dataset.Source);
                }
            }

            snapshot = new DatasetSnapshot(built, old.Generation + 1);
            _configFingerprints = fingerprints;
            Volatile.Write(ref _current, snapshot);
            HasApplied = true;
        }

        LogApplied(_logger, snapshot.Generation, snapshot.Datasets.Count, string.Join(", ", snapshot.Datasets.Keys));
        Changed?.Invoke(snapshot);
        return [];
    }

    public async ValueTask DisposeAsync()
    {
        IObjectSource[] sources;
        lock (_applyGate)
        {
            sources = [.. _retired, .. _current.Datasets.Values.Select(d => d.Source)];
            _retired.Clear();
            _current = DatasetSnapshot.Empty;
        }

        foreach (var source in sources)
        {
            await source.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Serving dataset generation {Generation}: {Count} dataset(s): {Names}")]
    private static partial void LogApplied(ILogger logger, long generation, int count, string names);
}
