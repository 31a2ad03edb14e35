namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// Client multipart uploads mapped 1:1 onto the remote's own multipart upload: the upload id the client sees is the
/// remote's, so no state lives in the sidecar and a restart loses nothing.
/// </summary>
public interface IMultipartObjectSource
{
    ValueTask<string> CreateMultipartUploadAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken);

    /// <summary>Uploads one part (bytes already read and verified); returns its quoted ETag.</summary>
    ValueTask<string> UploadPartAsync(string key, string uploadId, int partNumber, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Completes the upload from the client's part list; returns the object's ETag.</summary>
    ValueTask<string> CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<UploadedPart> parts, CancellationToken cancellationToken);

    ValueTask AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<UploadedPart>> ListPartsAsync(string key, string uploadId, CancellationToken cancellationToken);
}

/// <summary>One part of a multipart upload.</summary>
public sealed record UploadedPart(int PartNumber, string ETag, long Size = 0, DateTimeOffset LastModified = default);
