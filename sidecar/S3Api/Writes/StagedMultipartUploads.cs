using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Multipart uploads for a writable source that has none of its own (local/NFS directories). Each upload is a
/// directory <c>&lt;staging&gt;/multipart/&lt;uploadId&gt;/</c> holding an <c>upload</c> file (the source identity and key
/// it belongs to) and one file per part named <c>NNNNN.&lt;md5&gt;.part</c>, so the part's ETag travels with its bytes
/// and a re-sent part replaces the old one by a rename. CompleteMultipartUpload streams the listed parts, in order,
/// into the source's own PutObject (a temp file next to the target renamed over it: readers see the old object or
/// the whole new one), then deletes the upload directory.
/// </summary>
internal sealed class StagedMultipartUploads(string directory, string sourceIdentity, IWritableObjectSource source, StagingSpace space) : IMultipartObjectSource
{
    /// <summary>S3's smallest part, except the last.</summary>
    public const long MinPartSize = 5 * 1024 * 1024;

    private const string PartExtension = ".part";
    private const string UploadFile = "upload";
    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    public async ValueTask<string> CreateMultipartUploadAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var uploadId = Guid.NewGuid().ToString("N");
        var upload = Directory.CreateDirectory(Path.Combine(directory, uploadId)).FullName;
        await File.WriteAllTextAsync(Path.Combine(upload, UploadFile), Owner(key), cancellationToken);
        return uploadId;
    }

    /// <summary>No remote: the sidecar checks every declared digest itself.</summary>
    public bool ForwardsContentMd5 => false;

    public async ValueTask<string> UploadPartAsync(string key, string uploadId, int partNumber, Stream content, long length, PartDigests digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var upload = await OpenAsync(key, uploadId, cancellationToken);
        var temp = Path.Combine(upload, "." + Guid.NewGuid().ToString("N") + ".tmp");
        // Staging space first: a part that does not fit is refused before a byte of it is read.
        var reservation = space.ForFile(length);
        reservation.Grow(0);
        var kept = false;
        try
        {
            string md5;
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5))
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                {
                    // The part is kept only once its body was read to the end, which verified it.
                    await UploadStaging.CopyBoundedAsync(content, file, WriteResponder.MaxPartSize, cancellationToken, hash.AppendData, reservation);
                }

                md5 = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            var prefix = PartPrefix(partNumber);
            var part = Path.Combine(upload, prefix + md5 + PartExtension);
            var replaced = FileStatus.OfPath(part) is { IsRegularFile: true } same ? same.Size : 0;
            File.Move(temp, part, overwrite: true);
            kept = true;
            space.Release(replaced);
            foreach (var older in Directory.EnumerateFiles(upload, prefix + "*" + PartExtension))
            {
                if (older != part)
                {
                    var olderBytes = new FileInfo(older).Length;
                    File.Delete(older);
                    space.Release(olderBytes);
                }
            }

            return "\"" + md5 + "\"";
        }
        catch (DirectoryNotFoundException)
        {
            throw NoSuchUpload(uploadId);
        }
        finally
        {
            File.Delete(temp);
            if (!kept)
            {
                reservation.Release();
            }
        }
    }

    public async ValueTask<string> CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<UploadedPart> parts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var upload = await OpenAsync(key, uploadId, cancellationToken);
        var files = new List<string>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            if (i > 0 && part.PartNumber <= parts[i - 1].PartNumber)
            {
                throw new UploadRejectedException(new S3Error(400, "InvalidPartOrder", $"The parts must be listed in ascending order of part number; part {part.PartNumber} follows {parts[i - 1].PartNumber}."));
            }

            // Part ETags here are MD5s: anything else cannot name a part (and never reaches the file system).
            var md5 = part.ETag.Trim('"').ToLowerInvariant();
            var path = Path.Combine(upload, PartPrefix(part.PartNumber) + md5 + PartExtension);
            if (md5.Length != 32 || md5.AsSpan().ContainsAnyExcept(LowerHex) || FileStatus.OfPath(path) is not { IsRegularFile: true } status)
            {
                throw new UploadRejectedException(new S3Error(400, "InvalidPart", $"Part {part.PartNumber} with ETag {part.ETag} was not uploaded (or was replaced) in upload {uploadId}."));
            }

            if (i < parts.Count - 1 && status.Size < MinPartSize)
            {
                throw new UploadRejectedException(new S3Error(400, "EntityTooSmall", $"Part {part.PartNumber} has {status.Size} bytes; every part but the last needs at least {MinPartSize}."));
            }

            files.Add(path);
        }

        string etag;
        await using (var concatenated = new ConcatenatedFilesStream(files))
        {
            etag = await source.PutAsync(key, concatenated, ObjectWriteOptions.None, cancellationToken);
        }

        DeleteUpload(upload);
        return etag;
    }

    public async ValueTask AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        var upload = await OpenAsync(key, uploadId, cancellationToken);
        DeleteUpload(upload);
    }

    /// <summary>Deletes an upload's directory and gives its parts' bytes back to the staging budget.</summary>
    private void DeleteUpload(string upload)
    {
        long bytes = 0;
        foreach (var part in new DirectoryInfo(upload).EnumerateFiles("*" + PartExtension))
        {
            bytes += part.Length;
        }

        Directory.Delete(upload, recursive: true);
        space.Release(bytes);
    }

    public async ValueTask<IReadOnlyList<UploadedPart>> ListPartsAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        var upload = await OpenAsync(key, uploadId, cancellationToken);
        var parts = new List<UploadedPart>();
        foreach (var path in Directory.EnumerateFiles(upload, "*" + PartExtension))
        {
            var name = Path.GetFileName(path.AsSpan());
            if (name.Length > 6 && name[5] == '.' && int.TryParse(name[..5], NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                && FileStatus.OfPath(path) is { } status)
            {
                var md5 = name[6..^PartExtension.Length].ToString();
                parts.Add(new UploadedPart(number, "\"" + md5 + "\"", status.Size, status.LastModified));
            }
        }

        parts.Sort(static (a, b) => a.PartNumber.CompareTo(b.PartNumber));
        return parts;
    }

    /// <summary>The upload's directory, when <paramref name="uploadId"/> is an upload of this source and key.</summary>
    private async ValueTask<string> OpenAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        if (uploadId.Length != 32 || uploadId.AsSpan().ContainsAnyExcept(LowerHex))
        {
            throw NoSuchUpload(uploadId);
        }

        var upload = Path.Combine(directory, uploadId);
        try
        {
            if (await File.ReadAllTextAsync(Path.Combine(upload, UploadFile), cancellationToken) == Owner(key))
            {
                return upload;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Unknown or already completed/aborted.
        }

        throw NoSuchUpload(uploadId);
    }

    private string Owner(string key) => sourceIdentity + "\n" + key;

    private static string PartPrefix(int partNumber) => partNumber.ToString("D5", CultureInfo.InvariantCulture) + ".";

    private static UploadRejectedException NoSuchUpload(string uploadId) =>
        new(new S3Error(404, "NoSuchUpload", $"The specified multipart upload does not exist (upload id '{uploadId}'): it may have been completed or aborted."));
}
