using System.Buffers;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Write-through to the remote bucket. A body up to one part is buffered (pooled) and sent with one PutObject; a
/// larger one goes up as a multipart upload, reading the next part from the client while the previous one uploads
/// (two pooled part buffers per upload, never the whole object); a file on local disk (what the FUSE view stages)
/// goes up with several parts at once. Any failure — the client's body, a checksum veto,
/// the remote — aborts the multipart upload, so no partial object is left.
/// </summary>
internal sealed partial class S3ObjectSource : IWritableObjectSource
{
    /// <summary>Part size of the sidecar's own multipart uploads (S3's minimum is 5 MiB).</summary>
    public const int WritePartSize = 8 * 1024 * 1024;

    /// <summary>
    /// The SDK's default MD5 of every uploaded body (compared with the returned ETag) is one more hash pass over every
    /// byte, the largest CPU cost of a write-through after SigV4's own. Integrity is already covered: the client's
    /// digests are verified on the way in, and the way out is covered by SigV4 chunk signatures (and TLS on https).
    /// </summary>
    private const bool SkipSdkBodyDigest = true;

    /// <summary>Parts of a file body in flight at once (four 8 MiB buffers per upload).</summary>
    public const int ParallelFileParts = 4;

    public async ValueTask<string> PutAsync(string key, Stream content, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(options);
        if (content is FileStream { CanSeek: true } file && file.Length > WritePartSize)
        {
            return await PutFileAsync(key, file, options, cancellationToken);
        }

        var current = ArrayPool<byte>.Shared.Rent(WritePartSize);
        byte[]? next = null;
        string? uploadId = null;
        try
        {
            var length = await FillAsync(content, current, cancellationToken);
            if (length < WritePartSize)
            {
                // The end was read (and verified) before anything reaches the remote.
                var put = new PutObjectRequest
                {
                    BucketName = bucket,
                    Key = rootPrefix + key,
                    InputStream = new MemoryStream(current, 0, length, writable: false),
                    ContentType = options.ContentType,
                    AutoCloseStream = false,
                    DisableDefaultChecksumValidation = SkipSdkBodyDigest,
                };
                AddMetadata(put.Metadata, options);
                return (await Client.PutObjectAsync(put, cancellationToken)).ETag;
            }

            var create = new InitiateMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, ContentType = options.ContentType };
            AddMetadata(create.Metadata, options);
            uploadId = (await Client.InitiateMultipartUploadAsync(create, cancellationToken)).UploadId;
            next = ArrayPool<byte>.Shared.Rent(WritePartSize);
            var parts = new List<PartETag>();
            var partNumber = 1;
            while (true)
            {
                var uploading = UploadPartAsync(key, uploadId, partNumber++, current, length, cancellationToken);
                int nextLength;
                try
                {
                    nextLength = await FillAsync(content, next, cancellationToken);
                }
                catch
                {
                    // The part upload still reads the pooled buffer: let it finish before the buffer goes back.
                    await uploading.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                    throw;
                }

                parts.Add(await uploading);
                if (nextLength == 0)
                {
                    break;
                }

                (current, next) = (next, current);
                length = nextLength;
                if (length < WritePartSize)
                {
                    parts.Add(await UploadPartAsync(key, uploadId, partNumber, current, length, cancellationToken));
                    break;
                }
            }

            var complete = await Client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId, PartETags = parts },
                cancellationToken);
            uploadId = null;
            return complete.ETag;
        }
        catch when (uploadId is not null)
        {
            await AbortQuietlyAsync(key, uploadId);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            if (next is not null)
            {
                ArrayPool<byte>.Shared.Return(next);
            }
        }
    }

    /// <summary>
    /// A file on local disk (a file staged by the FUSE view) as a multipart upload with <see cref="ParallelFileParts"/>
    /// parts in flight: unlike a client's body, every part of a file can be read at any time, so the upload is not bound
    /// to one round trip per part (a single stream to a remote gets tens of MiB/s; aws-cli sends ten parts at once).
    /// Any failure aborts the upload, so no partial object is left.
    /// </summary>
    private async ValueTask<string> PutFileAsync(string key, FileStream file, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        var length = file.Length;
        var partCount = (int)((length + WritePartSize - 1) / WritePartSize);
        var create = new InitiateMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, ContentType = options.ContentType };
        AddMetadata(create.Metadata, options);
        var uploadId = (await Client.InitiateMultipartUploadAsync(create, cancellationToken)).UploadId;
        try
        {
            var parts = new PartETag[partCount];
            var nextPart = -1;
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            async Task UploadPartsAsync()
            {
                var buffer = ArrayPool<byte>.Shared.Rent(WritePartSize);
                try
                {
                    int index;
                    while ((index = Interlocked.Increment(ref nextPart)) < partCount)
                    {
                        var offset = (long)index * WritePartSize;
                        var size = (int)Math.Min(WritePartSize, length - offset);
                        var read = 0;
                        while (read < size)
                        {
                            var n = await RandomAccess.ReadAsync(file.SafeFileHandle, buffer.AsMemory(read, size - read), offset + read, failed.Token);
                            read += n > 0 ? n : throw new IOException($"'{file.Name}' ended at byte {offset + read} of {length} while uploading '{key}'");
                        }

                        parts[index] = await UploadPartAsync(key, uploadId, index + 1, buffer, size, failed.Token);
                    }
                }
                catch
                {
                    await failed.CancelAsync();
                    throw;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            var workers = Enumerable.Range(0, Math.Min(ParallelFileParts, partCount)).Select(_ => UploadPartsAsync()).ToArray();
            try
            {
                await Task.WhenAll(workers);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // One worker failed and cancelled the others: the first real failure is what the caller must see.
                var cause = workers.Select(w => w.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
                if (cause is null)
                {
                    throw;
                }

                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            }

            var complete = await Client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId, PartETags = [.. parts] },
                cancellationToken);
            return complete.ETag;
        }
        catch
        {
            await AbortQuietlyAsync(key, uploadId);
            throw;
        }
    }

    public async ValueTask DeleteAsync(string key, CancellationToken cancellationToken) =>
        await Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = rootPrefix + key }, cancellationToken);

    public async ValueTask<RemoteObject?> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken)
    {
        try
        {
            await Client.CopyObjectAsync(
                new CopyObjectRequest
                {
                    SourceBucket = bucket,
                    SourceKey = rootPrefix + sourceKey,
                    DestinationBucket = bucket,
                    DestinationKey = rootPrefix + destinationKey,
                },
                cancellationToken);
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        return await HeadAsync(destinationKey, cancellationToken);
    }

    private async Task<PartETag> UploadPartAsync(string key, string uploadId, int partNumber, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        var response = await Client.UploadPartAsync(
            new UploadPartRequest
            {
                BucketName = bucket,
                Key = rootPrefix + key,
                UploadId = uploadId,
                PartNumber = partNumber,
                InputStream = new MemoryStream(buffer, 0, length, writable: false),
                PartSize = length,
                DisableDefaultChecksumValidation = SkipSdkBodyDigest,
            },
            cancellationToken);
        return new PartETag(partNumber, response.ETag);
    }

    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId }, CancellationToken.None);
        }
        catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or HttpRequestException or IOException)
        {
            // The original failure is what the client must see; an orphaned upload is reclaimed by bucket lifecycle rules.
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> holds a whole part or the body ended; returns the byte count.</summary>
    private static async ValueTask<int> FillAsync(Stream content, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < WritePartSize)
        {
            var read = await content.ReadAsync(buffer.AsMemory(filled, WritePartSize - filled), cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled;
    }

    private static void AddMetadata(MetadataCollection target, ObjectWriteOptions options)
    {
        foreach (var (name, value) in options.Metadata)
        {
            target.Add(name, value);
        }
    }
}
