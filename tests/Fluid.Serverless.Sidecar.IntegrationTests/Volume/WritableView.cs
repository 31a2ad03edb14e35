using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.S3Api.Writes;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume;
using Fluid.Serverless.Sidecar.Volume.Fuse;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>
/// A real FUSE mount (as root) of a dataset through the real source chain, block cache and reader, with write
/// staging on a cache directory: what the sidecar mounts for a dataset in fuse mode.
/// </summary>
internal sealed class WritableView : IAsyncDisposable
{
    private readonly IObjectSource _source;
    private readonly DiskBlockCache _cache;
    private readonly ObjectReader _reader;

    private WritableView(string mountPath, string cacheDirectory, IObjectSource source, DiskBlockCache cache, ObjectReader reader, FuseStaging staging, FuseMount mount)
    {
        MountPath = mountPath;
        CacheDirectory = cacheDirectory;
        _source = source;
        _cache = cache;
        _reader = reader;
        Staging = staging;
        Mount = mount;
    }

    public string MountPath { get; }
    public string CacheDirectory { get; }
    public FuseStaging Staging { get; }
    public FuseMount Mount { get; }
    public FuseFileSystem FileSystem => Mount.FileSystem;
    public string StagingDirectory => Staging.Directory;

    public static async Task<WritableView> StartAsync(
        DatasetConfig config, string mountPath, string cacheDirectory, Func<string, string?>? environment = null, long stagingBytes = 1L << 30,
        (TimeSpan Delay, long MaxBacklogBytes)? writeBack = null)
    {
        var source = new SourceFactory(environment ?? (_ => null)).Create(config);
        var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = Path.Combine(cacheDirectory, "blocks"), BlockSize = 1024 * 1024, QuotaBytes = 1L << 30, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance, TimeProvider.System);
        var reader = new ObjectReader(cache, new ObjectReaderOptions(), NullLogger<ObjectReader>.Instance, TimeProvider.System);
        var staging = new FuseStaging(Path.Combine(cacheDirectory, "fuse-staging"), new StagingSpace(stagingBytes), cache, new FuseWriteStatistics())
        {
            RetryInterval = TimeSpan.FromSeconds(1),
            WriteBackDelay = writeBack?.Delay,
            WriteBackMaxBacklogBytes = writeBack?.MaxBacklogBytes ?? 0,
        };
        var fileSystem = new FuseFileSystem(new Dataset(config, source), reader, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance, staging);
        var mount = await FuseMount.MountAsync(mountPath, $"fluid-{config.Name}", fileSystem, readerThreads: 4, NullLogger.Instance, CancellationToken.None);
        await fileSystem.RecoverStagedAsync(CancellationToken.None);
        return new WritableView(mountPath, cacheDirectory, source, cache, reader, staging, mount);
    }

    public string PathOf(string key) => Path.Combine(MountPath, key);

    /// <summary>Ends the session without unmounting or uploading: what a killed sidecar leaves (a dead mount, staged files).</summary>
    public async Task CrashAsync()
    {
        await Mount.AbandonWithoutUnmountAsync();
        await FileSystem.StopWritesAsync();
        await Shell.RunAsync("umount", "-l", MountPath);
        await DisposeSourcesAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Mount.DisposeAsync();
        await FileSystem.StopWritesAsync();
        await DisposeSourcesAsync();
    }

    private async Task DisposeSourcesAsync()
    {
        await _reader.DisposeAsync();
        await _cache.DisposeAsync();
        await _source.DisposeAsync();
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
