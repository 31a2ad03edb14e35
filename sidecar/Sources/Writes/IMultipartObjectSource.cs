namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// Client multipart uploads mapped 1:1 onto the remote's own multipart upload: the upload id the client sees is the
/// remote's, so no state lives in the sidecar and a restart loses nothing.
/// </summary>
internal interface IMultipartObjectSource
{
    ValueTask<string> CreateMultipartUploadAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Uploads one part of exactly <paramref name="length"/> bytes, streamed from <paramref name="content"/> as it is
    /// read; returns its quoted ETag. The read that yields the last byte may throw to veto the part (a digest
    /// mismatch): the implementation must then not keep a part under that number from this call.
    /// </summary>
    ValueTask<string> UploadPartAsync(string key, string uploadId, int partNumber, Stream content, long length, PartDigests digests, CancellationToken cancellationToken);

    /// <summary>True when the part's Content-MD5 is passed on to a remote that checks it (S3 and its compatibles).</summary>
    bool ForwardsContentMd5 { get; }

    /// <summary>Completes the upload from the client's part list; returns the object's ETag.</summary>
    ValueTask<string> CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<UploadedPart> parts, CancellationToken cancellationToken);

    ValueTask AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<UploadedPart>> ListPartsAsync(string key, string uploadId, CancellationToken cancellationToken);
}

/// <summary>
/// What the client declared about a part's body. <see cref="Sha256Hex"/> is verified by the body stream itself (its
/// last byte is withheld until it matched), so a remote request may be signed with it instead of hashing the body
/// again; <see cref="ContentMd5"/> is passed on to remotes that check it.
/// </summary>
internal sealed record PartDigests(string? Sha256Hex, string? ContentMd5)
{
    public static readonly PartDigests None = new(null, null);
}

/// <summary>One part of a multipart upload.</summary>
internal sealed record UploadedPart(int PartNumber, string ETag, long Size = 0, DateTimeOffset LastModified = default);
