using System.Buffers;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// One mounted FUSE file system: opens /dev/fuse, calls mount(2) with the descriptor, and runs reader threads
/// that take requests off the descriptor and hand them to <see cref="FuseFileSystem"/>. A handler runs on its
/// reader thread until its first real wait (a remote fetch), then continues on the thread pool while the reader
/// takes the next request; so cached reads cost no thread hop and slow ones never block the loop.
/// The descriptor is non-blocking and polled with a short timeout, so stopping never depends on the kernel
/// waking a blocked read.
/// </summary>
internal sealed partial class FuseMount : IAsyncDisposable
{
    private const int PollTimeoutMilliseconds = 200;
    /// <summary>The kernel refuses a read buffer smaller than a maximal WRITE request (header + write_in + max_write).</summary>
    private const int RequestBufferSize = FuseFileSystem.MaxWrite + 4096;

    private readonly int _descriptor;
    private readonly FuseChannel _channel;
    private readonly FuseFileSystem _fileSystem;
    private readonly ILogger _logger;
    private readonly IMountOperations _operations;
    private readonly Thread[] _readers;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _activeReaders;
    private long _inFlight;
    private int _stopped;

    private FuseMount(string mountPath, int descriptor, FuseFileSystem fileSystem, int readerThreads, ILogger logger, IMountOperations operations)
    {
        _operations = operations;
        MountPath = mountPath;
        _descriptor = descriptor;
        _channel = new FuseChannel(descriptor);
        _fileSystem = fileSystem;
        _logger = logger;
        _readers = new Thread[Math.Max(1, readerThreads)];
    }

    public string MountPath { get; }

    public FuseFileSystem FileSystem => _fileSystem;

    /// <summary>Completes when the kernel ended the session (an external umount, or this mount was stopped).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Mounts <paramref name="fileSystem"/> at <paramref name="mountPath"/> (replacing a stale mount there) and waits for INIT.</summary>
    public static async Task<FuseMount> MountAsync(
        string mountPath, string fileSystemName, FuseFileSystem fileSystem, int readerThreads, ILogger logger,
        CancellationToken cancellationToken, string devicePath = "/dev/fuse", IMountOperations? operations = null)
    {
        operations ??= new DirectMountOperations(logger);
        operations.Prepare(mountPath);
        var descriptor = operations.OpenDevice(devicePath);
        if (descriptor < 0)
        {
            throw new FuseUnavailableException($"cannot open {devicePath}: {LibC.Describe(LibC.LastError)}; FUSE needs the device and CAP_SYS_ADMIN (use mode 'copy' where the platform forbids FUSE)");
        }
        try
        {
            operations.Mount(fileSystemName, mountPath, descriptor, fileSystem.AcceptsWrites);
        }
        catch
        {
            LibC.Close(descriptor);
            throw;
        }
        var mount = new FuseMount(mountPath, descriptor, fileSystem, readerThreads, logger, operations);
        mount.StartReaders();
        try
        {
            await fileSystem.Initialized.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch
        {
            await mount.DisposeAsync();
            throw;
        }
        if (!operations.TrySetReadAhead(mountPath, FuseFileSystem.MaxRead / 1024))
        {
            Log.ReadAheadUnchanged(logger, mountPath);
        }
        Log.Mounted(logger, fileSystemName, mountPath, mount._readers.Length);
        return mount;
    }

    private void StartReaders()
    {
        _activeReaders = _readers.Length;
        for (var i = 0; i < _readers.Length; i++)
        {
            _readers[i] = new Thread(ReadLoop) { IsBackground = true, Name = $"fuse-{i}" };
            _readers[i].Start();
        }
    }

    private unsafe void ReadLoop()
    {
        var buffer = GC.AllocateArray<byte>(RequestBufferSize, pinned: true);
        var token = _stopping.Token;
        try
        {
            fixed (byte* pointer = buffer)
            {
                while (!token.IsCancellationRequested)
                {
                    var poll = new LibC.PollDescriptor { Fd = _descriptor, Events = LibC.PollIn };
                    var ready = LibC.Poll(&poll, 1, PollTimeoutMilliseconds);
                    if (ready == 0 || (ready < 0 && LibC.LastError == LibC.EINTR))
                    {
                        continue;
                    }
                    var length = LibC.Read(_descriptor, pointer, RequestBufferSize);
                    if (length < 0)
                    {
                        var errno = LibC.LastError;
                        // EAGAIN: another reader took the request; ENOENT: it was interrupted before we read it.
                        if (errno is LibC.EAGAIN or LibC.EINTR or LibC.ENOENT)
                        {
                            continue;
                        }
                        if (errno != LibC.ENODEV)
                        {
                            Log.ReadLoopFailed(_logger, MountPath, LibC.Describe(errno));
                        }
                        return; // ENODEV: the file system was unmounted.
                    }
                    var request = ArrayPool<byte>.Shared.Rent((int)length);
                    buffer.AsSpan(0, (int)length).CopyTo(request);
                    Interlocked.Increment(ref _inFlight);
                    _ = HandleAsync(request, (int)length, token);
                }
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref _activeReaders) == 0)
            {
                _closed.TrySetResult();
            }
        }
    }

    private async Task HandleAsync(byte[] request, int length, CancellationToken cancellationToken)
    {
        try
        {
            await _fileSystem.HandleAsync(_channel, request.AsMemory(0, length), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the descriptor closes next and the kernel fails the request for its caller.
        }
        catch (Exception exception)
        {
            Log.HandlerCrashed(_logger, MountPath, exception);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request);
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>Detaches the mount (open files keep working until closed or until the session ends), then ends the session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        var errno = _operations.Unmount(MountPath);
        if (errno != 0)
        {
            if (errno != LibC.EINVAL) // EINVAL: already gone (someone ran umount)
            {
                Log.UnmountFailed(_logger, MountPath, LibC.Describe(errno));
            }
        }
        await StopReadersAsync();
        Log.Unmounted(_logger, MountPath);
    }

    /// <summary>
    /// Ends the session WITHOUT unmounting, leaving the mount point dead (ENOTCONN) exactly as a killed sidecar
    /// would. Tests use it to check that the next start detects and replaces the stale mount.
    /// </summary>
    internal async Task AbandonWithoutUnmountAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        await StopReadersAsync();
    }

    private async Task StopReadersAsync()
    {
        await _stopping.CancelAsync();
        await _closed.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Let handlers already running write their replies before the descriptor closes.
        for (var waited = 0; Interlocked.Read(ref _inFlight) > 0 && waited < 100; waited++)
        {
            await Task.Delay(20);
        }
        // Closing the last descriptor of the session aborts it: requests still pending fail with ENOTCONN.
        LibC.Close(_descriptor);
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.FuseMounted, LogLevel.Information, "Mounted {FileSystem} at {MountPath} ({Readers} reader threads)")]
        public static partial void Mounted(ILogger logger, string fileSystem, string mountPath, int readers);

        [LoggerMessage(EventIds.FuseUnmounted, LogLevel.Information, "Unmounted {MountPath}")]
        public static partial void Unmounted(ILogger logger, string mountPath);

        [LoggerMessage(EventIds.FuseUnmountFailed, LogLevel.Warning, "umount2 of {MountPath} failed: {Reason}")]
        public static partial void UnmountFailed(ILogger logger, string mountPath, string reason);

        [LoggerMessage(EventIds.FuseReadLoopFailed, LogLevel.Error, "Reading FUSE requests for {MountPath} failed: {Reason}; the session ends")]
        public static partial void ReadLoopFailed(ILogger logger, string mountPath, string reason);

        [LoggerMessage(EventIds.FuseReadAheadUnchanged, LogLevel.Information, "Could not raise the kernel read-ahead of {MountPath} (sysfs not writable); sequential reads arrive as 128 KiB requests")]
        public static partial void ReadAheadUnchanged(ILogger logger, string mountPath);

        [LoggerMessage(EventIds.FuseHandlerCrashed, LogLevel.Error, "FUSE handler for {MountPath} crashed")]
        public static partial void HandlerCrashed(ILogger logger, string mountPath, Exception exception);
    }
}

/// <summary>FUSE cannot be used here (no device, no privilege, mount refused); the message says which and why.</summary>
internal sealed class FuseUnavailableException(string message) : Exception(message);
