using System.Threading.Channels;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// One warm-up of one dataset: a producer expands the plan into a bounded queue (so dispatch follows manifest and
/// listing order and memory stays flat), N workers take objects in that order and warm them through the shared
/// <see cref="IObjectReader"/> at prefetch priority. Before each file the cache's used bytes are checked against the
/// quota: prefetch stops rather than evict what readers are using. A file that fails is retried, then reported.
/// </summary>
internal sealed partial class PrefetchJob : IDisposable
{
    private readonly Dataset _dataset;
    private readonly Dataset _warmDataset;
    private readonly PrefetchPlan _plan;
    private readonly IObjectReader _reader;
    private readonly IBlockCache _cache;
    private readonly PrefetchLimits _limits;
    private readonly PrefetchOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _retry;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<PrefetchFailure> _failures = [];

    private PrefetchPhase _phase = PrefetchPhase.Pending;
    private string? _message;
    private bool _quotaReached;
    private bool _cancelRequested;
    private bool _totalsFinal;
    private long _filesTotal, _filesDone, _filesFailed, _bytesTotal, _bytesDone, _bytesFetched, _unknownSizes;
    private long _startTimestamp;
    private DateTimeOffset? _startTime, _finishTime;
    private Task? _run;

    public PrefetchJob(
        string id,
        Dataset dataset,
        IReadOnlyList<PrefetchEntry> entries,
        PrefetchOrigin origin,
        IObjectReader reader,
        IBlockCache cache,
        PrefetchLimits limits,
        PrefetchOptions options,
        TimeProvider time,
        ILogger logger)
    {
        Id = id;
        Origin = origin;
        _dataset = dataset;
        _plan = new PrefetchPlan(entries);
        _reader = reader;
        _cache = cache;
        _limits = limits;
        _options = options;
        _time = time;
        _logger = logger;
        CreatedTime = time.GetUtcNow();
        _warmDataset = limits.Bandwidth is { } bucket
            ? new Dataset(dataset.Config, new ThrottledObjectSource(dataset.Source, bucket))
            : dataset;
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, options.FileRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                // A missing object will not reappear; a cancellation is not a failure.
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not (OperationCanceledException or RemoteObjectNotFoundException or QuotaReachedException)),
            })
            .Build();
    }

    public string Id { get; }
    public PrefetchOrigin Origin { get; }
    public Dataset Dataset => _dataset;
    public IReadOnlyList<PrefetchEntry> Entries => _plan.Entries;
    public DateTimeOffset CreatedTime { get; }

    /// <summary>Completes when the job has finished, whatever the outcome (never faults).</summary>
    public Task Completion => _run ?? Task.CompletedTask;

    public bool IsFinished => _phase is PrefetchPhase.Complete or PrefetchPhase.Failed or PrefetchPhase.Cancelled;

    public void Start()
    {
        lock (_gate)
        {
            if (_run is not null)
            {
                return;
            }

            _run = Task.Run(RunAsync);
        }
    }

    /// <summary>Stops dispatching and aborts in-flight warms; the job ends Cancelled.</summary>
    public void Cancel()
    {
        lock (_gate)
        {
            if (IsFinished)
            {
                return;
            }

            _cancelRequested = true;
            if (_run is null)
            {
                Finish(PrefetchPhase.Cancelled, "cancelled before it started");
            }
        }

        _stop.Cancel();
    }

    /// <summary>Marks a job that cannot run (its entries do not parse) as Failed with the reason.</summary>
    public void FailBeforeStart(string message)
    {
        lock (_gate)
        {
            if (_run is null && !IsFinished)
            {
                Finish(PrefetchPhase.Failed, message);
            }
        }
    }

    public PrefetchProgress GetProgress()
    {
        lock (_gate)
        {
            var end = _finishTime is null ? _time.GetTimestamp() : (long?)null;
            var elapsed = _startTime is null
                ? TimeSpan.Zero
                : end is { } now ? _time.GetElapsedTime(_startTimestamp, now) : _finishTime!.Value - _startTime.Value;
            var bytesDone = Interlocked.Read(ref _bytesDone);
            var filesDone = Interlocked.Read(ref _filesDone);
            var filesFailed = Interlocked.Read(ref _filesFailed);
            var bytesTotal = Interlocked.Read(ref _bytesTotal);
            var throughput = elapsed > TimeSpan.Zero ? bytesDone / elapsed.TotalSeconds : 0;
            return new PrefetchProgress
            {
                Id = Id,
                Dataset = _dataset.Name,
                Origin = Origin,
                Paths = [.. _plan.Entries.Select(e => e.Text)],
                PlanId = _plan.Id,
                Phase = _phase,
                Message = _message,
                QuotaReached = _quotaReached,
                TotalsFinal = _totalsFinal,
                FilesTotal = Interlocked.Read(ref _filesTotal),
                FilesDone = filesDone,
                FilesFailed = filesFailed,
                BytesTotal = bytesTotal,
                BytesDone = bytesDone,
                BytesFetched = Interlocked.Read(ref _bytesFetched),
                FailedFiles = [.. _failures],
                FailedFilesTruncated = filesFailed > _failures.Count,
                ThroughputBytesPerSecond = throughput,
                EtaSeconds = _phase == PrefetchPhase.Loading ? EstimateRemainingSeconds(elapsed, filesDone + filesFailed, bytesDone, bytesTotal, throughput) : null,
                CreatedTime = CreatedTime,
                StartTime = _startTime,
                FinishTime = _finishTime,
            };
        }
    }

    private double? EstimateRemainingSeconds(TimeSpan elapsed, long filesFinished, long bytesDone, long bytesTotal, double throughput)
    {
        if (!_totalsFinal || filesFinished == 0)
        {
            return null;
        }

        // Sizes known (listings): bytes are the honest measure. Manifest keys not yet HEADed: fall back to files.
        if (Interlocked.Read(ref _unknownSizes) == 0)
        {
            return throughput > 0 ? Math.Max(0, bytesTotal - bytesDone) / throughput : null;
        }

        var remainingFiles = Interlocked.Read(ref _filesTotal) - filesFinished;
        return Math.Max(0, remainingFiles) * elapsed.TotalSeconds / filesFinished;
    }

    private async Task RunAsync()
    {
        lock (_gate)
        {
            if (IsFinished)
            {
                return;
            }

            _phase = PrefetchPhase.Loading;
            _startTimestamp = _time.GetTimestamp();
            _startTime = _time.GetUtcNow();
        }

        Log.JobStarted(_logger, Id, _dataset.Name, string.Join(", ", _plan.Entries.Select(e => e.Text)));
        var queue = Channel.CreateBounded<PrefetchItem>(new BoundedChannelOptions(Math.Max(1, _options.LookAheadItems))
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        string? planError = null;
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var item in _plan.EnumerateAsync(_dataset.Source, _stop.Token))
                {
                    Interlocked.Increment(ref _filesTotal);
                    if (item.Error is not null)
                    {
                        RecordFailure(item.Key, item.Error);
                        continue;
                    }

                    if (item.Object is { } known)
                    {
                        Interlocked.Add(ref _bytesTotal, known.Size);
                    }
                    else
                    {
                        Interlocked.Increment(ref _unknownSizes);
                    }

                    await queue.Writer.WriteAsync(item, _stop.Token);
                }

                lock (_gate)
                {
                    _totalsFinal = true;
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                // Listing failed after the source's retries: what was listed still gets warmed; the job fails.
                planError = $"listing the prefetch entries failed: {e.Message}";
                Log.PlanFailed(_logger, e, Id, _dataset.Name);
            }
            finally
            {
                queue.Writer.TryComplete();
            }
        });

        var workers = new Task[_limits.Workers];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(queue.Reader));
        }

        await producer;
        await Task.WhenAll(workers);

        lock (_gate)
        {
            if (_cancelRequested)
            {
                Finish(PrefetchPhase.Cancelled, "cancelled");
            }
            else if (_quotaReached)
            {
                Finish(PrefetchPhase.Failed, _message);
            }
            else if (planError is not null)
            {
                Finish(PrefetchPhase.Failed, planError);
            }
            else if (_filesFailed > 0)
            {
                var names = string.Join(", ", _failures.Take(5).Select(f => f.Key));
                Finish(PrefetchPhase.Failed, $"{_filesFailed} of {_filesTotal} files failed ({names}{(_filesFailed > 5 ? ", …" : "")})");
            }
            else
            {
                Finish(PrefetchPhase.Complete, null);
            }
        }

        var final = GetProgress();
        Log.JobFinished(_logger, Id, _dataset.Name, final.Phase, final.FilesDone, final.FilesFailed, final.BytesDone, final.BytesFetched, final.Message ?? "");
    }

    private void Finish(PrefetchPhase phase, string? message)
    {
        _phase = phase;
        _message = message;
        _finishTime = _time.GetUtcNow();
    }

    private async Task WorkAsync(ChannelReader<PrefetchItem> queue)
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                // Take a slot before the item so the items leave the queue in order as slots free up.
                await _limits.Slots.WaitAsync(token);
                try
                {
                    if (!await queue.WaitToReadAsync(token))
                    {
                        return;
                    }

                    if (!queue.TryRead(out var item))
                    {
                        continue;
                    }

                    await WarmOneAsync(item, token);
                }
                finally
                {
                    _limits.Slots.Release();
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private async Task WarmOneAsync(PrefetchItem item, CancellationToken token)
    {
        var sizeCounted = item.Object is not null;
        var current = item.Object;
        try
        {
            await _retry.ExecuteAsync(
                async ct =>
                {
                    var obj = current ?? await _dataset.Source.HeadAsync(item.Key, ct) ?? throw new RemoteObjectNotFoundException(item.Key);
                    if (!sizeCounted)
                    {
                        sizeCounted = true;
                        Interlocked.Add(ref _bytesTotal, obj.Size);
                        Interlocked.Decrement(ref _unknownSizes);
                    }

                    EnsureQuotaAllows(obj);
                    try
                    {
                        var fetched = await _reader.WarmAsync(_warmDataset, obj, ct);
                        Interlocked.Add(ref _bytesFetched, fetched);
                        Interlocked.Add(ref _bytesDone, obj.Size);
                        Interlocked.Increment(ref _filesDone);
                    }
                    catch (RemoteObjectChangedException)
                    {
                        // The listing is stale: HEAD again on the next attempt and warm the current version.
                        current = null;
                        throw;
                    }
                },
                token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw;
        }
        catch (QuotaReachedException quota)
        {
            lock (_gate)
            {
                if (!_quotaReached)
                {
                    _quotaReached = true;
                    _message = quota.Message;
                }
            }

            Log.QuotaReached(_logger, Id, _dataset.Name, quota.Message);
            _stop.Cancel();
        }
        catch (Exception e)
        {
            Log.FileFailed(_logger, Id, _dataset.Name, item.Key, e.Message);
            RecordFailure(item.Key, e.Message);
        }
    }

    /// <summary>
    /// Prefetching past the quota would evict blocks readers use (and then the prefetch's own blocks): stop instead.
    /// A file whose blocks are all cached already needs no room.
    /// </summary>
    private void EnsureQuotaAllows(RemoteObject obj)
    {
        var statistics = _cache.GetStatistics();
        if (statistics.QuotaBytes <= 0 || statistics.UsedBytes + obj.Size <= statistics.QuotaBytes || IsFullyCached(obj))
        {
            return;
        }

        throw new QuotaReachedException(
            $"stopped at the cache quota: '{obj.Key}' ({obj.Size} bytes) does not fit, {statistics.UsedBytes} of {statistics.QuotaBytes} bytes used");
    }

    private bool IsFullyCached(RemoteObject obj)
    {
        var blockSize = _cache.BlockSize;
        var blocks = (obj.Size + blockSize - 1) / blockSize;
        for (long i = 0; i < blocks; i++)
        {
            if (!_cache.Contains(new BlockKey(_dataset.Source.Identity, obj.Key, obj.ETag, i)))
            {
                return false;
            }
        }

        return true;
    }

    private void RecordFailure(string key, string error)
    {
        Interlocked.Increment(ref _filesFailed);
        lock (_gate)
        {
            if (_failures.Count < _options.MaxFailedFilesListed)
            {
                _failures.Add(new PrefetchFailure(key, error));
            }
        }
    }

    public void Dispose() => _stop.Dispose();

    private sealed class QuotaReachedException(string message) : Exception(message);

    private static partial class Log
    {
        [LoggerMessage(EventId = EventIds.PrefetchStarted, Level = LogLevel.Information, Message = "Prefetch {JobId} of dataset '{Dataset}' started: {Paths}")]
        public static partial void JobStarted(ILogger logger, string jobId, string dataset, string paths);

        [LoggerMessage(EventId = EventIds.PrefetchFinished, Level = LogLevel.Information, Message = "Prefetch {JobId} of dataset '{Dataset}' finished {Phase}: {FilesDone} files done, {FilesFailed} failed, {BytesDone} bytes done, {BytesFetched} fetched. {Message}")]
        public static partial void JobFinished(ILogger logger, string jobId, string dataset, PrefetchPhase phase, long filesDone, long filesFailed, long bytesDone, long bytesFetched, string message);

        [LoggerMessage(EventId = EventIds.PrefetchFileFailed, Level = LogLevel.Warning, Message = "Prefetch {JobId} of dataset '{Dataset}': file '{Key}' failed after retries: {Error}")]
        public static partial void FileFailed(ILogger logger, string jobId, string dataset, string key, string error);

        [LoggerMessage(EventId = EventIds.PrefetchQuotaReached, Level = LogLevel.Warning, Message = "Prefetch {JobId} of dataset '{Dataset}' {Reason}")]
        public static partial void QuotaReached(ILogger logger, string jobId, string dataset, string reason);

        [LoggerMessage(EventId = EventIds.PrefetchPlanFailed, Level = LogLevel.Error, Message = "Prefetch {JobId} of dataset '{Dataset}': listing the entries failed")]
        public static partial void PlanFailed(ILogger logger, Exception exception, string jobId, string dataset);
    }
}
