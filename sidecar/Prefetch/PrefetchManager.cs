using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// Owns the prefetch jobs. Config jobs (one per dataset with prefetch entries) follow the dataset snapshot: a new
/// or changed dataset gets a fresh job, a removed one has its jobs cancelled. Admin jobs are started and cancelled
/// through the admin API. Readiness is decided here: with WaitForReady, ready means every config job is Complete.
/// </summary>
internal sealed partial class PrefetchManager : IPrefetchStatus, IDisposable
{
    private readonly IObjectReader _reader;
    private readonly IBlockCache _cache;
    private readonly PrefetchOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PrefetchJob> _configJobs = new(StringComparer.Ordinal);
    private readonly List<PrefetchJob> _adminJobs = [];
    private PrefetchConfig _config;
    private PrefetchLimits _limits;
    private bool _following;
    private long _nextId;

    public PrefetchManager(PrefetchConfig config, IObjectReader reader, IBlockCache cache, TimeProvider time, ILoggerFactory loggerFactory, PrefetchOptions? options = null)
    {
        _config = config;
        _reader = reader;
        _cache = cache;
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<PrefetchManager>();
        _options = options ?? new PrefetchOptions();
        _limits = new PrefetchLimits(config, time);
    }

    public bool WaitForReady
    {
        get
        {
            lock (_gate)
            {
                return _config.WaitForReady;
            }
        }
    }

    /// <summary>
    /// A new prefetch section (workers, bandwidth, gating) from a config reload. Jobs started from now on use the
    /// new limits; running jobs finish with the limits they started with.
    /// </summary>
    public void UpdateSettings(PrefetchConfig config)
    {
        lock (_gate)
        {
            if (config == _config)
            {
                return;
            }

            _config = config;
            _limits = new PrefetchLimits(config, _time);
        }
    }

    /// <summary>
    /// Makes the config jobs match the snapshot. Idempotent: a dataset whose object is unchanged keeps its job,
    /// so calling it twice with one snapshot starts nothing twice.
    /// </summary>
    public void Follow(DatasetSnapshot snapshot)
    {
        var toCancel = new List<PrefetchJob>();
        var toStart = new List<PrefetchJob>();
        lock (_gate)
        {
            _following = true;
            foreach (var (name, job) in _configJobs)
            {
                if (!snapshot.TryGet(name, out var dataset) || !ReferenceEquals(dataset, job.Dataset))
                {
                    toCancel.Add(job);
                }
            }

            foreach (var job in toCancel)
            {
                _configJobs.Remove(job.Dataset.Name);
            }

            // Admin warm-ups of a dataset that is gone (or now points elsewhere) would warm the wrong source.
            foreach (var job in _adminJobs)
            {
                if (!job.IsFinished && (!snapshot.TryGet(job.Dataset.Name, out var current) || !ReferenceEquals(current, job.Dataset)))
                {
                    toCancel.Add(job);
                }
            }

            foreach (var (name, dataset) in snapshot.Datasets)
            {
                if (dataset.Config.Prefetch.Count == 0 || _configJobs.ContainsKey(name))
                {
                    continue;
                }

                if (!PrefetchEntry.TryParseAll(dataset.Config.Prefetch, out var entries, out var error))
                {
                    // Config validation should have caught it; still fail visibly rather than skip.
                    var failed = CreateJob(dataset, [], PrefetchOrigin.Config);
                    failed.FailBeforeStart(error);
                    Log.BadEntries(_logger, name, error);
                    _configJobs[name] = failed;
                    continue;
                }

                var job = CreateJob(dataset, entries, PrefetchOrigin.Config);
                _configJobs[name] = job;
                toStart.Add(job);
            }
        }

        foreach (var job in toCancel)
        {
            job.Cancel();
            _ = job.Completion.ContinueWith(static (_, state) => ((PrefetchJob)state!).Dispose(), job, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        foreach (var job in toStart)
        {
            job.Start();
        }
    }

    /// <summary>Starts an admin warm-up of <paramref name="entries"/> in the dataset (no admin limits: tests and code).</summary>
    public PrefetchJob StartAdminJob(Dataset dataset, IReadOnlyList<PrefetchEntry> entries) =>
        TryStartAdminJob(dataset, entries, enforceLimits: false, out var job, out _) ? job : throw new InvalidOperationException("unreachable");

    /// <summary>
    /// Starts an admin warm-up unless a limit of <see cref="PrefetchOptions"/> is reached: running admin jobs, the
    /// files and bytes they still have to warm, entries per job. Config jobs never count: they are the pod's own.
    /// </summary>
    public bool TryStartAdminJob(Dataset dataset, IReadOnlyList<PrefetchEntry> entries, out PrefetchJob job, out PrefetchLimitHit? refused) =>
        TryStartAdminJob(dataset, entries, enforceLimits: true, out job, out refused);

    private bool TryStartAdminJob(Dataset dataset, IReadOnlyList<PrefetchEntry> entries, bool enforceLimits, out PrefetchJob job, out PrefetchLimitHit? refused)
    {
        lock (_gate)
        {
            refused = enforceLimits ? CheckAdminLimits(entries.Count) : null;
            if (refused is not null)
            {
                job = null!;
                return false;
            }

            job = CreateJob(dataset, entries, PrefetchOrigin.Admin);
            _adminJobs.Add(job);
            TrimFinishedAdminJobs();
        }

        job.Start();
        return true;
    }

    private PrefetchLimitHit? CheckAdminLimits(int entryCount)
    {
        if (entryCount > _options.MaxEntriesPerAdminJob)
        {
            return new PrefetchLimitHit(nameof(PrefetchOptions.MaxEntriesPerAdminJob), _options.MaxEntriesPerAdminJob, entryCount);
        }

        long running = 0, files = 0, bytes = 0;
        foreach (var job in _adminJobs)
        {
            if (job.IsFinished)
            {
                continue;
            }

            var progress = job.GetProgress();
            running++;
            files += Math.Max(0, progress.FilesTotal - progress.FilesDone - progress.FilesFailed);
            bytes += Math.Max(0, progress.BytesTotal - progress.BytesDone);
        }

        return running >= _options.MaxRunningAdminJobs ? new PrefetchLimitHit(nameof(PrefetchOptions.MaxRunningAdminJobs), _options.MaxRunningAdminJobs, running)
            : files >= _options.MaxQueuedAdminFiles ? new PrefetchLimitHit(nameof(PrefetchOptions.MaxQueuedAdminFiles), _options.MaxQueuedAdminFiles, files)
            : bytes >= _options.MaxQueuedAdminBytes ? new PrefetchLimitHit(nameof(PrefetchOptions.MaxQueuedAdminBytes), _options.MaxQueuedAdminBytes, bytes)
            : null;
    }

    public bool TryGet(string id, out PrefetchJob job)
    {
        lock (_gate)
        {
            foreach (var candidate in AllJobs())
            {
                if (candidate.Id == id)
                {
                    job = candidate;
                    return true;
                }
            }
        }

        job = null!;
        return false;
    }

    public IReadOnlyList<PrefetchProgress> List()
    {
        PrefetchJob[] jobs;
        lock (_gate)
        {
            jobs = [.. AllJobs()];
        }

        var progress = new PrefetchProgress[jobs.Length];
        for (var i = 0; i < jobs.Length; i++)
        {
            progress[i] = jobs[i].GetProgress();
        }

        return progress;
    }

    /// <summary>
    /// Ready when gating is off, or when the config jobs have been started and every one is Complete. A Failed job
    /// keeps the sidecar not-ready and the reason names the dataset and the cause.
    /// </summary>
    public (bool Ready, string Reason) GetReadiness()
    {
        lock (_gate)
        {
            if (!_config.WaitForReady)
            {
                return (true, "prefetch does not gate readiness");
            }

            if (!_following)
            {
                return (false, "prefetch has not started yet");
            }

            foreach (var job in _configJobs.Values)
            {
                var progress = job.GetProgress();
                if (progress.Phase != PrefetchPhase.Complete)
                {
                    return (false, progress.Phase switch
                    {
                        PrefetchPhase.Failed or PrefetchPhase.Cancelled =>
                            $"prefetch {progress.Id} of dataset '{progress.Dataset}' is {progress.Phase}: {progress.Message}",
                        _ => string.Create(CultureInfo.InvariantCulture,
                            $"prefetch {progress.Id} of dataset '{progress.Dataset}' is {progress.Phase}: {progress.FilesDone} of {progress.FilesTotal}{(progress.TotalsFinal ? "" : "+")} files"),
                    });
                }
            }

            return (true, "prefetch complete");
        }
    }

    public PrefetchStatusSnapshot Snapshot()
    {
        var (ready, reason) = GetReadiness();
        return new PrefetchStatusSnapshot(List(), WaitForReady, ready, reason);
    }

    /// <summary>Cancels every job (shutdown).</summary>
    public Task CancelAllAsync()
    {
        PrefetchJob[] jobs;
        lock (_gate)
        {
            jobs = [.. AllJobs()];
        }

        var completions = new Task[jobs.Length];
        for (var i = 0; i < jobs.Length; i++)
        {
            jobs[i].Cancel();
            completions[i] = jobs[i].Completion;
        }

        return Task.WhenAll(completions);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var job in AllJobs())
            {
                job.Cancel();
            }
        }
    }

    private IEnumerable<PrefetchJob> AllJobs() => _configJobs.Values.OrderBy(j => j.CreatedTime).Concat(_adminJobs);

    private PrefetchJob CreateJob(Dataset dataset, IReadOnlyList<PrefetchEntry> entries, PrefetchOrigin origin)
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"pf-{++_nextId}");
        return new PrefetchJob(id, dataset, entries, origin, _reader, _cache, _limits, _options, _time, _loggerFactory.CreateLogger<PrefetchJob>());
    }

    private void TrimFinishedAdminJobs()
    {
        var finished = 0;
        for (var i = _adminJobs.Count - 1; i >= 0; i--)
        {
            if (_adminJobs[i].IsFinished && ++finished > _options.FinishedJobsKept)
            {
                _adminJobs[i].Dispose();
                _adminJobs.RemoveAt(i);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = EventIds.PrefetchBadEntries, Level = LogLevel.Error, Message = "Dataset '{Dataset}' has invalid prefetch entries: {Error}")]
        public static partial void BadEntries(ILogger logger, string dataset, string error);
    }
}
