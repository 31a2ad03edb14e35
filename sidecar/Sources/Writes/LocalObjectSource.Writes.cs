using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>Writes to a directory: a temp file next to the target, renamed over it once complete (atomic on POSIX).</summary>
internal sealed partial class LocalObjectSource : IWritableObjectSource
{
    private const string TempMarker = ".fluid-upload-";

    public async ValueTask<string> PutAsync(string key, Stream content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = WritablePath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = TempPathFor(path);
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(file, 1024 * 1024, cancellationToken);
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

    private static string TempPathFor(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + TempMarker + Guid.NewGuid().ToString("N"));
}
