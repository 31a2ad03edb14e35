using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Turns an accepted config into the next dataset snapshot. Datasets whose config did not change keep their
/// <see cref="Dataset"/> object (so their prefetch job and metadata cache carry on); a dataset whose source settings
/// are unchanged but whose other fields changed (prefetch list, mount path…) gets a new Dataset over the same source;
/// anything else gets a new source. Every new source is built before anything is published: if one cannot be built
/// the whole config is rejected and nothing changes. Requests already holding the old Dataset finish on it, and
/// since cache keys carry the source identity the old blocks stay valid for the old source. Sources no longer used
/// are disposed after a grace period, long enough for in-flight downloads to finish.
/// </summary>
internal sealed partial class ConfigApplier(
    ISourceFactory sources,
    IDatasetSnapshotPublisher registry,
    PrefetchManager? prefetch,
    TimeProvider time,
    ILogger<ConfigApplier> logger,
    TimeSpan? retiredSourceGrace = null)
{
    /// <summary>A read that started before the switch has this long to finish before its source is closed.</summary>
    public static readonly TimeSpan DefaultRetiredSourceGrace = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();

    /// <summary>Builds and publishes the snapshot for <paramref name="config"/>; throws (publishing nothing) when a source cannot be built.</summary>
    public DatasetSnapshot Apply(SidecarConfig config)
    {
        DatasetSnapshot next;
        List<IObjectSource> retired;
        lock (_gate)
        {
            var current = registry.Current;
            var datasets = new Dictionary<string, Dataset>(StringComparer.Ordinal);
            var created = new List<IObjectSource>();
            try
            {
                foreach (var datasetConfig in config.Datasets)
                {
                    datasets[datasetConfig.Name] = Reuse(current, datasetConfig) ?? Build(datasetConfig, created);
                }
            }
            catch
            {
                foreach (var source in created)
                {
                    _ = source.DisposeAsync().AsTask();
                }

                throw;
            }

            next = new DatasetSnapshot(datasets, current.Generation + 1);
            retired = RetiredSources(current, next);

            // Limits first: publishing raises Changed, and the prefetch jobs it starts should use the new ones.
            prefetch?.UpdateSettings(config.Prefetch);
            registry.Publish(next);
        }

        Log.Applied(logger, next.Generation, next.Datasets.Count, retired.Count);
        foreach (var source in retired)
        {
            _ = DisposeLaterAsync(source);
        }

        return next;
    }

    private Dataset? Reuse(DatasetSnapshot current, DatasetConfig config)
    {
        if (!current.TryGet(config.Name, out var existing))
        {
            return null;
        }

        if (DatasetConfigComparison.Equivalent(existing.Config, config))
        {
            return existing;
        }

        return DatasetConfigComparison.SameSource(existing.Config, config) ? new Dataset(config, existing.Source) : null;
    }

    private Dataset Build(DatasetConfig config, List<IObjectSource> created)
    {
        IObjectSource source;
        try
        {
            source = sources.Create(config);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or UriFormatException)
        {
            throw new InvalidOperationException($"dataset '{config.Name}': {e.Message}", e);
        }

        created.Add(source);
        return new Dataset(config, source);
    }

    private static List<IObjectSource> RetiredSources(DatasetSnapshot previous, DatasetSnapshot next)
    {
        var stillUsed = new HashSet<IObjectSource>(ReferenceEqualityComparer.Instance);
        foreach (var dataset in next.Datasets.Values)
        {
            stillUsed.Add(dataset.Source);
        }

        var retired = new List<IObjectSource>();
        foreach (var dataset in previous.Datasets.Values)
        {
            if (stillUsed.Add(dataset.Source))
            {
                retired.Add(dataset.Source);
            }
        }

        return retired;
    }

    private async Task DisposeLaterAsync(IObjectSource source)
    {
        try
        {
            await Task.Delay(retiredSourceGrace ?? DefaultRetiredSourceGrace, time);
            await source.DisposeAsync();
        }
        catch (Exception e)
        {
            Log.DisposeFailed(logger, e, source.Identity);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = EventIds.DatasetSnapshotApplied, Level = LogLevel.Information, Message = "Dataset snapshot {Generation} published: {Datasets} datasets, {Retired} sources retired")]
        public static partial void Applied(ILogger logger, long generation, int datasets, int retired);

        [LoggerMessage(EventId = EventIds.RetiredSourceDisposeFailed, Level = LogLevel.Warning, Message = "Disposing retired source '{Source}' failed")]
        public static partial void DisposeFailed(ILogger logger, Exception exception, string source);
    }
}

/// <summary>Value comparison of dataset configs (records compare their dictionaries and lists by reference).</summary>
internal static class DatasetConfigComparison
{
    /// <summary>The fields that decide which bytes the source returns and how its metadata is cached.</summary>
    public static bool SameSource(DatasetConfig a, DatasetConfig b) =>
        a.Source == b.Source
        && a.Immutable == b.Immutable
        && a.ReadOnly == b.ReadOnly
        && SameEntries(a.Options, b.Options)
        && SameEntries(a.SecretOptions, b.SecretOptions);

    public static bool Equivalent(DatasetConfig a, DatasetConfig b) =>
        SameSource(a, b)
        && a.Name == b.Name
        && a.MountPath == b.MountPath
        && a.Prefetch.SequenceEqual(b.Prefetch, StringComparer.Ordinal);

    private static bool SameEntries(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || other != value)
            {
                return false;
            }
        }

        return true;
    }
}
