using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Writes to a directory: the body goes to a temp file in <see cref="StagingDirectoryName"/> at the dataset root (the
/// same file system as the objects, so the final step is a rename: atomic on POSIX), is flushed to disk (fsync), and
/// is renamed over the target. The staging directory is left out of listings and keys, so nothing of an upload in
/// flight shows through the S3 endpoint or the FUSE view; temp files a killed process left are swept by the next write.
/// </summary>
internal sealed partial class LocalObjectSource : IWritableObjectSource
{
    /// <summary>
    /// Untouched this long, a temp file belongs to no upload (a live one is written continuously; Kestrel cuts clients
    /// that stall). Another pod's sidecar may be writing to the same NFS export, so fresh files are never swept.
    /// </summary>
    internal static readonly TimeSpan AbandonedTempFileAge = TimeSpan.FromHours(1);

    private int _swept;

    public async ValueTask<string> PutAsync(string key, Stream content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = WritablePath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var staging = Path.Combine(root, StagingDirectoryName);
        Directory.CreateDirectory(staging);
        if (Interlocked.Exchange(ref _swept, 1) == 0)
        {
            SweepAbandonedTempFiles(staging, DateTime.UtcNow - AbandonedTempFileAge);
        }

        var temp = Path.Combine(staging, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(file, 1024 * 1024, cancellationToken);
                // On disk before it takes the final name: a node crash leaves the old object or the whole new one.
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        return FileStatus.OfPath(path) is { } status ? status.ETag : throw new IOException($"'{key}' vanished right after it was written");
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = WritablePath(key);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask<RemoteObject?> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        var from = ResolveKey(sourceKey);
        if (from is null || FileStatus.OfPath(from) is not { IsRegularFile: true })
        {
            return null;
        }

        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        await PutAsync(destinationKey, source, ObjectWriteOptions.None, cancellationToken);
        return await HeadAsync(destinationKey, cancellationToken);
    }

    private string WritablePath(string key) =>
        key.EndsWith('/') || ResolveKey(key) is not { } path
            ? throw new ArgumentException($"key '{key}' cannot be written under {root} (not a file path inside the dataset)", nameof(key))
            : path;

    private static void SweepAbandonedTempFiles(string staging, DateTime cutoffUtc)
    {
        foreach (var file in Directory.EnumerateFiles(staging))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) < cutoffUtc)
                {
                    File.Delete(file);
                }
            }
            catch (IOException)
            {
                // Another sidecar on the same export swept it first.
            }
        }
    }
}
