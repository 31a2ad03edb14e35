using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Certificates;

/// <summary>
/// Loads the serving certificate from mounted PEM files (cert-manager or any Secret) and reloads it when they change,
/// without a restart. Kubelet updates a Secret volume by swapping a "..data" symlink, which a file watcher may or may
/// not report depending on the filesystem, so a periodic check of the files' content backs the watcher up.
/// A half-written or mismatched pair is logged and the previous certificate stays in service.
/// </summary>
internal sealed partial class FileCertificateReloader : BackgroundService
{
    private readonly CertificateStore _store;
    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _time;
    private readonly ILogger<FileCertificateReloader> _logger;
    private readonly SemaphoreSlim _changed = new(0, 1);
    private byte[] _loadedHash = [];

    public FileCertificateReloader(CertificateStore store, string certificatePath, string keyPath, TimeSpan pollInterval, TimeProvider time, ILogger<FileCertificateReloader> logger)
    {
        _store = store;
        _certificatePath = Path.GetFullPath(certificatePath);
        _keyPath = Path.GetFullPath(keyPath);
        _pollInterval = pollInterval;
        _time = time;
        _logger = logger;
    }

    /// <summary>Loads the files now; returns false (and logs why) when they are missing or invalid.</summary>
    public bool TryLoad()
    {
        try
        {
            var certificateBytes = File.ReadAllBytes(_certificatePath);
            var keyBytes = File.ReadAllBytes(_keyPath);
            var hash = SHA256.HashData([.. certificateBytes, .. keyBytes]);
            if (hash.AsSpan().SequenceEqual(_loadedHash))
            {
                return true;
            }

            var certificate = X509Certificate2.CreateFromPem(
                System.Text.Encoding.ASCII.GetString(certificateBytes),
                System.Text.Encoding.ASCII.GetString(keyBytes));
            _store.Set(certificate);
            _loadedHash = hash;
            Log.Loaded(_logger, _certificatePath, certificate.Subject, certificate.NotAfter);
            return true;
        }
        catch (Exception exception) when (exception is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
        {
            Log.LoadFailed(_logger, _certificatePath, _keyPath, exception.Message);
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(_certificatePath)!)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.DirectoryName,
        };
        watcher.Changed += (_, _) => Signal();
        watcher.Created += (_, _) => Signal();
        watcher.Renamed += (_, _) => Signal();
        watcher.Deleted += (_, _) => Signal();
        watcher.EnableRaisingEvents = true;

        Task? signalled = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            signalled ??= _changed.WaitAsync(stoppingToken);
            var finished = await Task.WhenAny(signalled, Task.Delay(_pollInterval, _time, stoppingToken));
            if (finished == signalled)
            {
                signalled = null;
            }

            if (!stoppingToken.IsCancellationRequested)
            {
                TryLoad();
            }
        }
    }

    private void Signal()
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // a reload is already pending
            }
        }
    }

    public override void Dispose()
    {
        _changed.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CertificateLoaded, LogLevel.Information, "serving certificate loaded from {Path}: {Subject}, valid until {NotAfter:u}")]
        public static partial void Loaded(ILogger logger, string path, string subject, DateTime notAfter);

        [LoggerMessage(EventIds.CertificateLoadFailed, LogLevel.Warning, "cannot load the serving certificate from {CertificatePath} and {KeyPath}: {Reason}; keeping the previous one")]
        public static partial void LoadFailed(ILogger logger, string certificatePath, string keyPath, string reason);
    }
}
