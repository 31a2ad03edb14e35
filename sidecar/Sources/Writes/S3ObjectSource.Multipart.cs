using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Sources;

internal sealed partial class S3ObjectSource : IMultipartObjectSource
{
    public async ValueTask<string> CreateMultipartUploadAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var request = new InitiateMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, ContentType = options.ContentType };
        AddMetadata(request.Metadata, options);
        return (await Client.InitiateMultipartUploadAsync(request, cancellationToken)).UploadId;
    }

    public bool ForwardsContentMd5 => true;

    /// <summary>
    /// Streams the client's part into the remote's part with Content-Length = <paramref name="length"/>. A veto on the
    /// last read (bad digest) or a client that stops sending fails the SDK request before its last byte was sent, so
    /// the remote sees a short body and stores nothing under this part number. A body SHA-256 the stream verifies is
    /// used as the request's payload hash (no chunk signing, no second hash pass over the bytes); the client's
    /// Content-MD5 goes to the remote, which checks it.
    /// </summary>
    public async ValueTask<string> UploadPartAsync(string key, string uploadId, int partNumber, Stream content, long length, PartDigests digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(digests);
        var request = new UploadPartRequest
        {
            BucketName = bucket,
            Key = rootPrefix + key,
            UploadId = uploadId,
            PartNumber = partNumber,
            InputStream = content.CanSeek ? content : new ForwardOnlyPartStream(content, length),
            PartSize = length,
            DisableDefaultChecksumValidation = SkipSdkBodyDigest,
            MD5Digest = digests.ContentMd5,
        };
        if (digests.Sha256Hex is { } sha256)
        {
            request.UseChunkEncoding = false;
            PrecomputedPayloadHash.Attach(request, sha256);
        }

        return (await Client.UploadPartAsync(request, cancellationToken)).ETag;
    }

    public async ValueTask<string> CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<UploadedPart> parts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var etags = new List<PartETag>(parts.Count);
        foreach (var part in parts)
        {
            etags.Add(new PartETag(part.PartNumber, part.ETag));
        }

        var response = await Client.CompleteMultipartUploadAsync(
            new CompleteMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId, PartETags = etags },
            cancellationToken);
        return response.ETag;
    }

    public async ValueTask AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken) =>
        await Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId }, cancellationToken);

    public async ValueTask<IReadOnlyList<UploadedPart>> ListPartsAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        var parts = new List<UploadedPart>();
        var request = new ListPartsRequest { BucketName = bucket, Key = rootPrefix + key, UploadId = uploadId };
        while (true)
        {
            var response = await Client.ListPartsAsync(request, cancellationToken);
            foreach (var part in response.Parts ?? [])
            {
                parts.Add(new UploadedPart(part.PartNumber ?? 0, part.ETag, part.Size ?? 0, ToOffset(part.LastModified)));
            }

            if (response.IsTruncated != true)
            {
                return parts;
            }

            request.PartNumberMarker = response.NextPartNumberMarker?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
