using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Volume.Copy;
using Fluid.Serverless.Sidecar.Volume.Fuse;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>
/// Serves every dataset that has a mount path on the shared volume, in the configured mode, and follows the
/// registry: a new dataset is mounted/copied, a removed one unmounted/stopped, a changed one swapped in place
/// (FUSE serves the new source without remounting; copy mode re-runs and resumes). Stopping unmounts everything.
/// </summary>
internal sealed partial class VolumeService(
    IDatasetRegistry registry, IObjectReader reader, VolumeOptions options, TimeProvider time, ILogger<VolumeService> logger,
    FuseStaging? staging = null)
    : IHostedService, IVolumeStatus, IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ActiveVolume> _volumes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private string _mode = DatasetModes.S3;
    private bool _stopped;
    private bool _privilegesDropped;
    private MountHelperClient? _mountHelper;
    private readonly SwitchableMountOperations _mountOperations = new(new DirectMountOperations(logger));
    private string? _privilegeDropFailure;

    private IObjectReader Reader => reader;
    private VolumeOptions Options => options;
    private TimeProvider Time => time;
    private ILogger Logger => logger;
    private FuseStaging? Staging => staging;

    public string Mode => _mode;

    public FuseWriteStatistics? WriteStatistics => staging?.Statistics;

    public IReadOnlyList<VolumeStatusEntry> Volumes
    {
        get
        {
            lock (_volumes)
            {
                return [.. _volumes.Values.Select(v => v.Snapshot())];
            }
        }
    }

    /// <summary>False also when dropPrivileges is set and the switch failed: a sidecar still running as root is not ready.</summary>
    public bool IsReady => _privilegeDropFailure is null && Volumes.All(v => v.State is VolumeState.Mounted or VolumeState.Ready);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        options.Validate();
        _mode = ResolveMode();
        Log.ModeChosen(logger, options.Mode, _mode);
        if (_mode == DatasetModes.S3)
        {
            return;
        }
        registry.Changed += OnRegistryChanged;
        await ReconcileAsync(registry.Current, cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.Changed -= OnRegistryChanged;
        await _stopping.CancelAsync();
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            _stopped = true;
            List<ActiveVolume> volumes;
            lock (_volumes)
            {
                volumes = [.. _volumes.Values];
            }
            foreach (var volume in volumes)
            {
                await volume.StopAsync();
            }
            _mountOperations.Current = new DirectMountOperations(logger);
            _mountHelper?.Dispose();
            _mountHelper = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await StopAsync(CancellationToken.None);
        }
        _stopping.Dispose();
        _gate.Dispose();
    }

    private string ResolveMode()
    {
        if (options.Mode != DatasetModes.Auto)
        {
            return options.Mode;
        }
        var descriptor = LibC.Open(options.FuseDevicePath, LibC.OReadWrite | LibC.OCloseOnExec);
        if (descriptor < 0)
        {
            Log.FuseUnusable(logger, options.FuseDevicePath, LibC.Describe(LibC.LastError));
            return DatasetModes.Copy;
        }
        LibC.Close(descriptor);
        return DatasetModes.Fuse;
    }

    private void DropPrivilegesOnce()
    {
        if (_privilegesDropped || _mode != DatasetModes.Fuse || options.DropPrivilegesTo is not { } to)
        {
            return;
        }

        _privilegesDropped = true;
        try
        {
            // Mounting a dataset added later and unmounting at shutdown still need root: a helper keeps it.
            string[] roots;
            lock (_volumes)
            {
                roots = [.. _volumes.Values.Select(v => Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(v.Progress.MountPath)))!).Where(r => r is { Length: > 1 }).Distinct(StringComparer.Ordinal)];
            }

            if (roots.Length > 0)
            {
                _mountHelper = MountHelperClient.Start(roots, options.FuseDevicePath);
                _mountOperations.Current = _mountHelper;
                Log.MountHelperStarted(logger, _mountHelper.ProcessId, string.Join(", ", roots));
            }

            PrivilegeDrop.Drop(to.Uid, to.Gid, options.OwnedDirectories, logger);
        }
        catch (Exception exception) when (exception is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            _privilegeDropFailure = exception.Message;
            Log.PrivilegeDropFailed(logger, exception.Message);
        }
    }

    private void OnRegistryChanged(DatasetSnapshot snapshot) => _ = ReconcileLoggedAsync(snapshot);

    private async Task ReconcileLoggedAsync(DatasetSnapshot snapshot)
    {
        try
        {
            await ReconcileAsync(snapshot, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            Log.ReconcileFailed(logger, snapshot.Generation, exception);
        }
    }

    private async Task ReconcileAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_stopped)
            {
                return;
            }
            List<ActiveVolume> current;
            lock (_volumes)
            {
                current = [.. _volumes.Values];
            }
            foreach (var volume in current)
            {
                if (!snapshot.TryGet(volume.Dataset.Name, out var next) || next.Config.MountPath != volume.Progress.MountPath)
                {
                    await volume.StopAsync();
                    lock (_volumes)
                    {
                        _volumes.Remove(volume.Dataset.Name);
                    }
                }
            }
            foreach (var dataset in snapshot.Datasets.Values)
            {
                if (string.IsNullOrEmpty(dataset.Config.MountPath))
                {
                    continue;
                }
                ActiveVolume? existing;
                lock (_volumes)
                {
                    _volumes.TryGetValue(dataset.Name, out existing);
                }
                if (existing is not null)
                {
                    await existing.UpdateAsync(dataset, cancellationToken);
                    continue;
                }
                var volume = await StartVolumeAsync(dataset, cancellationToken);
                lock (_volumes)
                {
                    _volumes[dataset.Name] = volume;
                }
            }

            // The first published datasets are mounted: from here on the process needs no privilege to serve them.
            if (snapshot.Generation > 0)
            {
                DropPrivilegesOnce();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ActiveVolume> StartVolumeAsync(Dataset dataset, CancellationToken cancellationToken)
    {
        var mountPath = dataset.Config.MountPath!;
        if (_mode == DatasetModes.Fuse)
        {
            var progress = new VolumeProgress(dataset.Name, DatasetModes.Fuse, mountPath);
            var volume = new FuseVolume(dataset, progress, this);
            try
            {
                await volume.MountAsync(cancellationToken);
                return volume;
            }
            catch (Exception exception) when (exception is FuseUnavailableException or IOException or UnauthorizedAccessException)
            {
                if (options.Mode != DatasetModes.Auto)
                {
                    progress.SetState(VolumeState.Failed, exception.Message);
                    Log.MountFailed(logger, dataset.Name, mountPath, exception.Message);
                    return volume;
                }
                Log.FallingBackToCopy(logger, dataset.Name, exception.Message);
            }
        }
        var copy = new CopyVolume(dataset, new VolumeProgress(dataset.Name, DatasetModes.Copy, mountPath), this);
        copy.Start();
        return copy;
    }

    private abstract class ActiveVolume(Dataset dataset, VolumeProgress progress)
    {
        public Dataset Dataset { get; protected set; } = dataset;
        public VolumeProgress Progress { get; } = progress;
        public abstract Task UpdateAsync(Dataset dataset, CancellationToken cancellationToken);
        public virtual VolumeStatusEntry Snapshot() => Progress.Snapshot();
        public abstract Task StopAsync();
    }

    private sealed class FuseVolume(Dataset dataset, VolumeProgress progress, VolumeService owner) : ActiveVolume(dataset, progress)
    {
        private FuseMount? _mount;
        private volatile bool _stopping;

        public async Task MountAsync(CancellationToken cancellationToken)
        {
            Progress.SetState(VolumeState.Mounting);
            var fileSystem = new FuseFileSystem(Dataset, owner.Reader, owner.Options.MetadataTtl, owner.Time, owner.Logger, owner.Staging);
            _mount = await FuseMount.MountAsync(
                Progress.MountPath, $"fluid-{Dataset.Name}", fileSystem, owner.Options.FuseReaderThreads, owner.Logger,
                cancellationToken, owner.Options.FuseDevicePath, owner._mountOperations);
            Progress.SetState(VolumeState.Mounted);
            // Files a killed sidecar left staged: uploaded (or deleted when stale) while the view already serves.
            _ = Task.Run(() => fileSystem.RecoverStagedAsync(CancellationToken.None), CancellationToken.None);
            _ = _mount.Closed.ContinueWith(_ =>
            {
                if (!_stopping)
                {
                    // Someone unmounted it under us: say so in /status and /readyz rather than pretend.
                    Progress.SetState(VolumeState.Failed, $"the FUSE mount at '{Progress.MountPath}' was unmounted externally");
                    Log.UnmountedExternally(owner.Logger, Dataset.Name, Progress.MountPath);
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        public override Task UpdateAsync(Dataset dataset, CancellationToken cancellationToken)
        {
            Dataset = dataset;
            if (_mount is not null)
            {
                _mount.FileSystem.Dataset = dataset;
            }
            return Task.CompletedTask;
        }

        public override VolumeStatusEntry Snapshot() =>
            _mount?.FileSystem.FailedUploads is { Count: > 0 } failed ? Progress.Snapshot() with { FailedWrites = failed } : Progress.Snapshot();

        public override async Task StopAsync()
        {
            _stopping = true;
            if (_mount is not null)
            {
                await _mount.DisposeAsync();
                await _mount.FileSystem.StopWritesAsync();
            }
            Progress.SetState(VolumeState.Stopped);
        }
    }

    private sealed class CopyVolume(Dataset dataset, VolumeProgress progress, VolumeService owner) : ActiveVolume(dataset, progress)
    {
        private CancellationTokenSource _cancellation = new();
        private Task _run = Task.CompletedTask;

        public void Start()
        {
            var copier = new DatasetCopier(Dataset, Progress.MountPath, owner.Reader,
                new CopyOptions(owner.Options.CopySizeLimitBytes, owner.Options.CopyFreeSpaceFloorBytes, owner.Options.CopyWorkers, owner.Options.CopyStateDirectory),
                Progress, owner.Time, owner.Logger);
            var token = _cancellation.Token;
            _run = Task.Run(() => copier.RunAsync(token), CancellationToken.None);
        }

        public override async Task UpdateAsync(Dataset dataset, CancellationToken cancellationToken)
        {
            var before = Dataset.Config;
            Dataset = dataset;
            if (before.Source == dataset.Config.Source && before.Prefetch.SequenceEqual(dataset.Config.Prefetch))
            {
                return;
            }
            // Another source or selection: copy again; files whose ETag and size still match are kept.
            await StopRunAsync();
            _cancellation = new CancellationTokenSource();
            Start();
        }

        public override async Task StopAsync()
        {
            await StopRunAsync();
            if (Progress.State != VolumeState.Ready)
            {
                Progress.SetState(VolumeState.Stopped);
            }
        }

        private async Task StopRunAsync()
        {
            // Not disposed: StopAsync may follow an update that already stopped a run (no timer, nothing leaks).
            await _cancellation.CancelAsync();
            await _run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.MountHelperStarted, LogLevel.Information, "Mount helper (pid {ProcessId}) keeps root for mounts under {Roots}")]
        public static partial void MountHelperStarted(ILogger logger, int processId, string roots);

        [LoggerMessage(EventIds.PrivilegeDropFailed, LogLevel.Critical, "dropPrivileges is set but the switch failed, so the sidecar stays not ready: {Reason}")]
        public static partial void PrivilegeDropFailed(ILogger logger, string reason);

        [LoggerMessage(EventIds.VolumeModeChosen, LogLevel.Information, "Volume mode {Configured} resolved to {Mode}")]
        public static partial void ModeChosen(ILogger logger, string configured, string mode);

        [LoggerMessage(EventIds.FuseUnusable, LogLevel.Warning, "FUSE is not usable ({Device}: {Reason}); mode auto uses copy")]
        public static partial void FuseUnusable(ILogger logger, string device, string reason);

        [LoggerMessage(EventIds.FallingBackToCopy, LogLevel.Warning, "Mounting dataset {Dataset} failed ({Reason}); mode auto falls back to copy for it")]
        public static partial void FallingBackToCopy(ILogger logger, string dataset, string reason);

        [LoggerMessage(EventIds.MountFailed, LogLevel.Error, "Mounting dataset {Dataset} at {MountPath} failed: {Reason}")]
        public static partial void MountFailed(ILogger logger, string dataset, string mountPath, string reason);

        [LoggerMessage(EventIds.VolumeReconcileFailed, LogLevel.Error, "Applying dataset snapshot {Generation} to the volumes failed")]
        public static partial void ReconcileFailed(ILogger logger, long generation, Exception exception);

        [LoggerMessage(EventIds.UnmountedExternally, LogLevel.Error, "The FUSE mount of dataset {Dataset} at {MountPath} was unmounted externally")]
        public static partial void UnmountedExternally(ILogger logger, string dataset, string mountPath);
    }
}
