using System.Threading.Channels;
using Fluid.Serverless.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>Where the config lives and how often to look at it.</summary>
internal sealed record ConfigFileWatcherOptions
{
    public required string Path { get; init; }
    public ConfigFileKind Kind { get; init; } = ConfigFileKind.Annotations;

    /// <summary>The poll that catches what file events miss; a change is seen within this interval at worst.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>File events make a change visible in milliseconds; off only in tests that prove the poll alone works.</summary>
    public bool UseFileSystemEvents { get; init; } = true;
}

/// <summary>
/// Watches the sidecar config file and raises <see cref="ConfigChanged"/> with each new valid config.
/// Kubelet updates a downward-API file by writing a new timestamped directory and renaming a "..data_tmp" symlink
/// over "..data"; the file we were given is a symlink through "..data". FileSystemWatcher sees that rename as an
/// event on the directory, but not reliably on every platform or filesystem (and not at all when inotify watches
/// run out), so the watcher does both: directory events trigger an immediate check, and a poll (1 s) re-reads the
/// file through its symlinks and compares a hash of the config itself. Either way the change is seen within 2 s.
/// A config that does not parse or validate, or that the handler refuses (throws), is rejected as a whole: the
/// old one stays, the reason is logged, kept in <see cref="Status"/> and counted. One bad content is counted once.
/// </summary>
internal sealed partial class ConfigFileWatcher : IHostedService, IDisposable
{
    private readonly ConfigFileWatcherOptions _options;
    private readonly Func<SidecarConfig, IReadOnlyList<string>> _validate;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _checking = new(1, 1);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private FileSystemWatcher? _events;
    private ITimer? _poll;
    private Task? _loop;
    private ulong? _lastSeenHash;
    private int _disposed;
    private SidecarConfig? _current;
    private ConfigReloadStatus _status;

    public ConfigFileWatcher(ConfigFileWatcherOptions options, Func<SidecarConfig, IReadOnlyList<string>> validate, TimeProvider time, ILogger<ConfigFileWatcher> logger)
    {
        _options = options;
        _validate = validate;
        _time = time;
        _logger = logger;
        _status = new ConfigReloadStatus { Path = options.Path, Kind = options.Kind };
    }

    /// <summary>Raised with each new valid config; a handler that throws rejects it (the old config stays current).</summary>
    public event Action<SidecarConfig>? ConfigChanged;

    /// <summary>The config in force: the initial one, then each accepted change. Null until one was read.</summary>
    public SidecarConfig? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public ConfigReloadStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>
    /// Reads the config as it is now and makes it generation 1, without raising <see cref="ConfigChanged"/> (startup
    /// applies it itself). False with the reason when it cannot be used; later checks keep trying.
    /// </summary>
    public bool TryLoadInitial(out SidecarConfig config, out string error)
    {
        var read = SidecarConfigFile.Read(_options.Path, _options.Kind);
        var problem = read.Error ?? Validate(read.Config!);
        lock (_gate)
        {
            _lastSeenHash = read.ContentHash;
            if (problem is null)
            {
                _current = read.Config!;
                _status = _status with { Generation = 1, LastAppliedTime = _time.GetUtcNow() };
            }
            else
            {
                _status = _status with { ReloadFailures = _status.ReloadFailures + 1, LastError = problem, LastErrorTime = _time.GetUtcNow() };
            }
        }

        config = read.Config!;
        error = problem ?? "";
        return problem is null;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        bool loaded;
        lock (_gate)
        {
            loaded = _lastSeenHash is not null;
        }

        if (!loaded && !TryLoadInitial(out _, out var error))
        {
            Log.Rejected(_logger, _options.Path, error);
        }

        if (_options.UseFileSystemEvents)
        {
            StartFileEvents();
        }

        _poll = _time.CreateTimer(static state => ((ConfigFileWatcher)state!).Wake(), this, _options.PollInterval, _options.PollInterval);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        _wake.Writer.TryComplete();
        if (_loop is not null)
        {
            try
            {
                await _loop.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The host's shutdown timeout expired (SIGTERM with requests in flight): the loop has been told to
                // stop and ends on its own; failing the stop here would turn a clean SIGTERM into a crash exit.
            }
        }
    }

    /// <summary>Checks the file now (the loop calls it on events and polls; tests may call it directly).</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        await _checking.WaitAsync(cancellationToken);
        try
        {
            Check();
        }
        finally
        {
            _checking.Release();
        }
    }

    /// <summary>Idempotent: a host that registers the watcher as a singleton and as a hosted service disposes it twice.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _events?.Dispose();
        _poll?.Dispose();
        _stop.Dispose();
        _checking.Dispose();
    }

    private void Check()
    {
        var read = SidecarConfigFile.Read(_options.Path, _options.Kind);
        lock (_gate)
        {
            if (read.ContentHash == _lastSeenHash)
            {
                return;
            }

            _lastSeenHash = read.ContentHash;
        }

        var problem = read.Error ?? Validate(read.Config!);
        if (problem is not null)
        {
            Reject(problem);
            return;
        }

        try
        {
            ConfigChanged?.Invoke(read.Config!);
        }
        catch (Exception e)
        {
            Reject($"config in '{_options.Path}' could not be applied: {e.Message}");
            return;
        }

        long generation;
        lock (_gate)
        {
            _current = read.Config;
            generation = _status.Generation + 1;
            _status = _status with { Generation = generation, LastAppliedTime = _time.GetUtcNow(), Reloads = _status.Reloads + 1 };
        }

        Log.Applied(_logger, _options.Path, generation, read.Config!.Datasets.Count);
    }

    private void Reject(string reason)
    {
        lock (_gate)
        {
            _status = _status with { ReloadFailures = _status.ReloadFailures + 1, LastError = reason, LastErrorTime = _time.GetUtcNow() };
        }

        Log.Rejected(_logger, _options.Path, reason);
    }

    /// <summary>The validator's verdict as one message, or null when valid. A validator that throws (say, on an
    /// explicit JSON null where an object belongs) rejects the config rather than stopping the watcher.</summary>
    private string? Validate(SidecarConfig config)
    {
        try
        {
            var errors = _validate(config);
            return errors.Count == 0 ? null : "config is invalid: " + string.Join("; ", errors);
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentException or InvalidOperationException)
        {
            return $"config is invalid: {e.Message}";
        }
    }

    private void StartFileEvents()
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_options.Path));
        try
        {
            var events = new FileSystemWatcher(directory!)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            events.Changed += (_, _) => Wake();
            events.Created += (_, _) => Wake();
            events.Deleted += (_, _) => Wake();
            events.Renamed += (_, _) => Wake();
            events.Error += (_, e) => Log.EventsFailed(_logger, directory!, e.GetException().Message);
            events.EnableRaisingEvents = true;
            _events = events;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // The poll still sees every change; only the latency grows to the poll interval.
            Log.EventsFailed(_logger, directory ?? _options.Path, e.Message);
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task LoopAsync()
    {
        try
        {
            await foreach (var _ in _wake.Reader.ReadAllAsync(_stop.Token))
            {
                try
                {
                    await CheckAsync(_stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Never let one bad check end watching: the next event or poll tries again.
                    Log.CheckFailed(_logger, e, _options.Path);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = EventIds.ConfigFileApplied, Level = LogLevel.Information, Message = "Applied config from '{Path}': generation {Generation}, {Datasets} datasets")]
        public static partial void Applied(ILogger logger, string path, long generation, int datasets);

        [LoggerMessage(EventId = EventIds.ConfigFileRejected, Level = LogLevel.Error, Message = "Rejected config from '{Path}', keeping the current one: {Reason}")]
        public static partial void Rejected(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = EventIds.ConfigFileEventsFailed, Level = LogLevel.Warning, Message = "File events for '{Directory}' are unavailable ({Reason}); relying on polling")]
        public static partial void EventsFailed(ILogger logger, string directory, string reason);

        [LoggerMessage(EventId = EventIds.ConfigFileCheckFailed, Level = LogLevel.Error, Message = "Checking config file '{Path}' failed")]
        public static partial void CheckFailed(ILogger logger, Exception exception, string path);
    }
}
