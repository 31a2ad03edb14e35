using System.Buffers;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// The sidecar's scratch space for uploads, a directory of its own (by default <c>&lt;cache.directory&gt;/uploads</c>,
/// next to the block cache's <c>blocks/</c>, never inside a dataset, so nothing here shows in a listing or the FUSE
/// view): <c>spool/</c> holds client parts that came without a length (the remote needs one) until they are sent,
/// <c>multipart/</c> the parts of multipart uploads to sources without their own (local/NFS directories). Every byte
/// there is counted against <see cref="Space"/> (<c>cache.stagingBytes</c>), starting from what is on disk.
/// </summary>
internal sealed class UploadStaging
{
    private const int CopyBufferSize = 1024 * 1024;

    public UploadStaging(string directory, long capacityBytes = Contracts.SidecarDefaults.UploadStagingBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        SpoolDirectory = Path.Combine(Directory, "spool");
        MultipartDirectory = Path.Combine(Directory, "multipart");
        Space = new StagingSpace(capacityBytes, BytesOnDisk(Directory));
    }

    /// <summary>The staging byte budget, shared by spool and part files.</summary>
    public StagingSpace Space { get; }

    private static long BytesOnDisk(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return 0;
        }

        long bytes = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            bytes += file.Length;
        }

        return bytes;
    }

    public string Directory { get; }

    public string SpoolDirectory { get; }

    public string MultipartDirectory { get; }

    /// <summary>
    /// How long a staged multipart upload may sit untouched before the start-up sweep deletes it: a week, the
    /// lifetime S3 users commonly give incomplete uploads with an <c>AbortIncompleteMultipartUpload</c> rule.
    /// </summary>
    public static readonly TimeSpan AbandonedUploadAge = TimeSpan.FromDays(7);

    /// <summary>
    /// Deletes what a killed process left behind, once at start: every spool file (a spool file lives only as long
    /// as the request that wrote it, and none is in flight yet) and every multipart upload whose newest part or
    /// marker is older than <paramref name="abandonedAfter"/>. Staging is disk outside the cache quota; without
    /// this, uploads nobody completes or aborts would fill it.
    /// </summary>
    public StagingSweep SweepLeftovers(DateTimeOffset now, TimeSpan abandonedAfter)
    {
        var spoolFiles = 0;
        if (System.IO.Directory.Exists(SpoolDirectory))
        {
            foreach (var file in new DirectoryInfo(SpoolDirectory).EnumerateFiles())
            {
                var length = file.Length;
                file.Delete();
                Space.Release(length);
                spoolFiles++;
            }
        }

        var uploads = 0;
        if (System.IO.Directory.Exists(MultipartDirectory))
        {
            var cutoff = now.UtcDateTime - abandonedAfter;
            foreach (var upload in System.IO.Directory.EnumerateDirectories(MultipartDirectory))
            {
                if (LastTouchedUtc(upload) < cutoff)
                {
                    var length = BytesOnDisk(upload);
                    System.IO.Directory.Delete(upload, recursive: true);
                    Space.Release(length);
                    uploads++;
                }
            }
        }

        return new StagingSweep(spoolFiles, uploads);
    }

    private static DateTime LastTouchedUtc(string upload)
    {
        var newest = System.IO.Directory.GetLastWriteTimeUtc(upload);
        foreach (var file in System.IO.Directory.EnumerateFiles(upload))
        {
            var written = File.GetLastWriteTimeUtc(file);
            if (written > newest)
            {
                newest = written;
            }
        }

        return newest;
    }

    /// <summary>Staging under the system temp directory, for hosts without a cache directory (tests, tools).</summary>
    public static UploadStaging InTempDirectory() => new(Path.Combine(Path.GetTempPath(), "fluid-sidecar-uploads"));

    /// <summary>The multipart uploads of <paramref name="dataset"/>'s writable source when it has none of its own.</summary>
    public IMultipartObjectSource MultipartFor(Dataset dataset, IWritableObjectSource source) =>
        new StagedMultipartUploads(MultipartDirectory, dataset.Source.Identity, source, Space);

    /// <summary>
    /// Copies <paramref name="content"/> to its end (which verifies it) into a temp file that deletes itself on
    /// dispose, and returns it positioned at 0; more than <paramref name="limit"/> bytes → EntityTooLarge.
    /// </summary>
    public async ValueTask<FileStream> SpoolAsync(Stream content, long limit, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(SpoolDirectory);
        var path = Path.Combine(SpoolDirectory, Guid.NewGuid().ToString("N"));
        var reservation = Space.ForFile(null);
        var file = new SpoolFile(path, reservation);
        try
        {
            await CopyBoundedAsync(content, file, limit, cancellationToken, reservation: reservation);
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    /// <summary>Copies to the end of <paramref name="content"/>, refusing more than <paramref name="limit"/> bytes; returns the count.</summary>
    public static async ValueTask<long> CopyBoundedAsync(
        Stream content, Stream destination, long limit, CancellationToken cancellationToken, Action<ReadOnlySpan<byte>>? observe = null, StagingSpace.Reservation? reservation = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long total = 0;
            while (true)
            {
                var read = await content.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken);
                if (read == 0)
                {
                    return total;
                }

                total += read;
                if (total > limit)
                {
                    throw new UploadRejectedException(new S3Error(400, "EntityTooLarge", $"The body is larger than the {limit} bytes accepted here; nothing was stored."));
                }

                observe?.Invoke(buffer.AsSpan(0, read));
                reservation?.Grow(read);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>A spool file: deleted on close, which gives its bytes back to the staging budget.</summary>
internal sealed class SpoolFile(string path, StagingSpace.Reservation reservation)
    : FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous | FileOptions.DeleteOnClose)
{
    private int _released;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            reservation.Release();
        }
    }
}

/// <summary>What one start-up sweep of the staging directory deleted.</summary>
internal readonly record struct StagingSweep(int SpoolFiles, int AbandonedUploads);
