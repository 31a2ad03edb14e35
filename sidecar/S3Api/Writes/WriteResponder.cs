using System.Buffers;
using System.Globalization;
using System.Xml;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Writes on a writable dataset, written through to its source: PutObject, CopyObject (x-amz-copy-source within the
/// dataset), DeleteObject, DeleteObjects, and client multipart uploads (mapped 1:1 onto the remote's). After every
/// change the object's cached metadata and blocks are dropped, so reads see the new version at once.
/// </summary>
internal sealed class WriteResponder(IBlockCache? cache, UploadStaging staging)
{
    /// <summary>S3's largest part (5 GiB).</summary>
    public const long MaxPartSize = 5L * 1024 * 1024 * 1024;

    private readonly UploadStaging _staging = staging;

    private const int MaxXmlBody = 4 * 1024 * 1024;

    public async ValueTask<S3Error?> RespondAsync(HttpContext context, S3Operation operation, Dataset dataset, string? key, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var query = request.Query;
        var source = WritableSources.Find(dataset.Source);
        if (source is null)
        {
            return S3Error.NotImplemented($"dataset '{dataset.Name}' is writable but its source ({dataset.Source.Identity}) does not accept writes; nothing was changed") with { BucketName = dataset.Name, Key = key };
        }

        try
        {
            if (key is null)
            {
                return operation == S3Operation.DeleteObjects
                    ? await DeleteObjectsAsync(context, dataset, source, cancellationToken)
                    : S3Error.NotImplemented($"{request.Method} on bucket '{dataset.Name}' is not supported (buckets are datasets, configured in the sidecar)") with { BucketName = dataset.Name };
            }

            var uploadId = query["uploadId"].ToString();
            // Remote stores map client uploads onto their own; directories stage the parts in the sidecar.
            var multipart = source as IMultipartObjectSource ?? _staging.MultipartFor(dataset, source);

            switch (operation)
            {
                case S3Operation.UploadPart:
                    return await UploadPartAsync(context, multipart, key, uploadId, cancellationToken);
                case S3Operation.CopyObject:
                    return await CopyAsync(context, dataset, source, key, cancellationToken);
                case S3Operation.PutObject:
                    return await PutAsync(context, dataset, source, key, cancellationToken);
                case S3Operation.CreateMultipartUpload:
                    return await CreateMultipartAsync(context, dataset, multipart, key, cancellationToken);
                case S3Operation.CompleteMultipartUpload:
                    return await CompleteMultipartAsync(context, dataset, multipart, key, uploadId, cancellationToken);
                case S3Operation.AbortMultipartUpload:
                    await multipart.AbortMultipartUploadAsync(key, uploadId, cancellationToken);
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    return null;
                case S3Operation.DeleteObject:
                    await source.DeleteAsync(key, cancellationToken);
                    cache?.InvalidateObject(dataset, key);
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    return null;
                case S3Operation.ListParts:
                    return await ListPartsAsync(context, dataset, multipart, key, uploadId, cancellationToken);
                default:
                    return S3Error.NotImplemented($"{request.Method} {request.QueryString} on an object is not supported by the sidecar; nothing was changed") with { BucketName = dataset.Name, Key = key };
            }
        }
        catch (Exception e) when (InnermostOfType<UploadRejectedException>(e) is { } rejected)
        {
            // Also when the SDK wrapped it: a streamed part's body was vetoed while the SDK was sending it.
            return rejected.Error with { BucketName = dataset.Name, Key = key };
        }
        catch (Exception e) when (e is not Microsoft.AspNetCore.Http.BadHttpRequestException && InnermostOfType<Microsoft.AspNetCore.Http.BadHttpRequestException>(e) is { } badBody)
        {
            return new S3Error(400, "IncompleteBody", $"The request body could not be read ({badBody.Message}); nothing was stored.") { BucketName = dataset.Name, Key = key };
        }
        catch (Exception e) when (e is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            // The client went away while the SDK was streaming its body on: the same as a plain cancellation.
            throw new OperationCanceledException("the client disconnected during the upload", e, cancellationToken);
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode is System.Net.HttpStatusCode.NotFound && e.ErrorCode == "NoSuchUpload")
        {
            return new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist: " + e.Message) { BucketName = dataset.Name, Key = key };
        }
        catch (Amazon.S3.AmazonS3Exception e) when ((int)e.StatusCode is >= 400 and < 500 && e.ErrorCode is { Length: > 0 })
        {
            // The remote refused (e.g. InvalidPart, EntityTooSmall): the client sees the remote's own answer.
            return new S3Error((int)e.StatusCode, e.ErrorCode, $"The remote of dataset '{dataset.Name}' refused the request: {e.Message}") { BucketName = dataset.Name, Key = key };
        }
        catch (Amazon.Runtime.AmazonServiceException e)
        {
            throw new SourceUnavailableException($"dataset '{dataset.Name}': the remote failed the write ({e.Message}); nothing was changed", e);
        }
        catch (HttpRequestException e)
        {
            throw new SourceUnavailableException($"dataset '{dataset.Name}': the remote failed the write ({e.Message}); nothing was changed", e);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            return new S3Error(400, "IncompleteBody", $"The request body could not be read ({e.Message}); nothing was stored.") { BucketName = dataset.Name, Key = key };
        }
    }

    private async ValueTask<S3Error?> PutAsync(HttpContext context, Dataset dataset, IWritableObjectSource source, string key, CancellationToken cancellationToken)
    {
        await using var body = UploadBody.Open(context.Request);
        string etag;
        try
        {
            etag = await source.PutAsync(key, body, WriteOptions(context.Request), cancellationToken);
        }
        finally
        {
            // Even a failed write may have replaced (local) or removed nothing; dropping the cache is always safe.
            cache?.InvalidateObject(dataset, key);
        }

        context.Response.Headers.ETag = etag;
        return null;
    }

    private async ValueTask<S3Error?> CopyAsync(HttpContext context, Dataset dataset, IWritableObjectSource source, string key, CancellationToken cancellationToken)
    {
        var copySource = Uri.UnescapeDataString(context.Request.Headers["x-amz-copy-source"].ToString()).TrimStart('/');
        var question = copySource.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            copySource = copySource[..question];
        }

        var slash = copySource.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || copySource[..slash] != dataset.Name)
        {
            return S3Error.NotImplemented($"x-amz-copy-source '{copySource}': only copies within dataset '{dataset.Name}' are supported") with { BucketName = dataset.Name, Key = key };
        }

        var sourceKey = copySource[(slash + 1)..];
        if (!ObjectKeys.IsSafeRelativeKey(sourceKey))
        {
            return S3Error.InvalidArgument($"x-amz-copy-source key '{sourceKey}' is not a valid key");
        }

        var copied = await source.CopyAsync(sourceKey, key, cancellationToken);
        cache?.InvalidateObject(dataset, key);
        if (copied is null)
        {
            return S3Error.NoSuchKey(dataset.Name, sourceKey);
        }

        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("CopyObjectResult"u8);
        xml.Element("LastModified"u8, copied.LastModified);
        xml.Element("ETag"u8, copied.ETag);
        xml.End("CopyObjectResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    private static async ValueTask<S3Error?> CreateMultipartAsync(HttpContext context, Dataset dataset, IMultipartObjectSource source, string key, CancellationToken cancellationToken)
    {
        var uploadId = await source.CreateMultipartUploadAsync(key, WriteOptions(context.Request), cancellationToken);
        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("InitiateMultipartUploadResult"u8);
        xml.Element("Bucket"u8, dataset.Name);
        xml.Element("Key"u8, key);
        xml.Element("UploadId"u8, uploadId);
        xml.End("InitiateMultipartUploadResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    private async ValueTask<S3Error?> UploadPartAsync(HttpContext context, IMultipartObjectSource source, string key, string uploadId, CancellationToken cancellationToken)
    {
        if (!int.TryParse(context.Request.Query["partNumber"], NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber) || partNumber is < 1 or > 10000)
        {
            return S3Error.InvalidArgument($"partNumber '{context.Request.Query["partNumber"]}' must be an integer from 1 to 10000");
        }

        await using var body = UploadBody.Open(context.Request, source.ForwardsContentMd5);
        var digests = new PartDigests(body.VerifiedSha256Hex, body.ContentMd5);
        if (body.DeclaredLength is { } length)
        {
            if (length > MaxPartSize)
            {
                return new S3Error(400, "EntityTooLarge", $"The part declares {length} bytes; a part may have at most {MaxPartSize} (5 GiB). Nothing was stored.");
            }

            // Streamed straight into the remote part: the verifying stream withholds the last byte until the body's
            // digests matched, so a bad part never completes at the remote.
            context.Response.Headers.ETag = await source.UploadPartAsync(key, uploadId, partNumber, body, length, digests, cancellationToken);
            return null;
        }

        // No length up front (Transfer-Encoding: chunked without x-amz-decoded-content-length): the remote needs one,
        // so the part is spooled to a temp file (never to memory), verified, then sent.
        await using var spool = await _staging.SpoolAsync(body, MaxPartSize, cancellationToken);
        context.Response.Headers.ETag = await source.UploadPartAsync(key, uploadId, partNumber, spool, spool.Length, digests, cancellationToken);
        return null;
    }

    private async ValueTask<S3Error?> CompleteMultipartAsync(HttpContext context, Dataset dataset, IMultipartObjectSource source, string key, string uploadId, CancellationToken cancellationToken)
    {
        var parts = new List<UploadedPart>();
        var xmlBody = await ReadXmlBodyAsync(context.Request, cancellationToken);
        using (var reader = XmlReader.Create(new MemoryStream(xmlBody), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, Async = false }))
        {
            int? number = null;
            string? etag = null;
            reader.Read();
            while (!reader.EOF)
            {
                // ReadElementContentAsString moves past the element itself, so only the other branches call Read.
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "PartNumber")
                {
                    if (!int.TryParse(reader.ReadElementContentAsString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                    {
                        return new S3Error(400, "MalformedXML", "A <PartNumber> of CompleteMultipartUpload is not an integer.");
                    }

                    number = parsed;
                }
                else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "ETag")
                {
                    etag = reader.ReadElementContentAsString();
                }
                else
                {
                    if (reader.NodeType == XmlNodeType.EndElement && reader.LocalName == "Part")
                    {
                        if (number is null || etag is null)
                        {
                            return new S3Error(400, "MalformedXML", "Every <Part> of CompleteMultipartUpload needs a <PartNumber> and an <ETag>.");
                        }

                        parts.Add(new UploadedPart(number.Value, etag));
                        (number, etag) = (null, null);
                    }

                    reader.Read();
                }
            }
        }

        if (parts.Count == 0)
        {
            return new S3Error(400, "MalformedXML", "CompleteMultipartUpload lists no parts.");
        }

        var objectEtag = await source.CompleteMultipartUploadAsync(key, uploadId, parts, cancellationToken);
        cache?.InvalidateObject(dataset, key);
        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("CompleteMultipartUploadResult"u8);
        xml.Element("Location"u8, $"/{dataset.Name}/{key}");
        xml.Element("Bucket"u8, dataset.Name);
        xml.Element("Key"u8, key);
        xml.Element("ETag"u8, objectEtag);
        xml.End("CompleteMultipartUploadResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    private static async ValueTask<S3Error?> ListPartsAsync(HttpContext context, Dataset dataset, IMultipartObjectSource source, string key, string uploadId, CancellationToken cancellationToken)
    {
        var parts = await source.ListPartsAsync(key, uploadId, cancellationToken);
        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("ListPartsResult"u8);
        xml.Element("Bucket"u8, dataset.Name);
        xml.Element("Key"u8, key);
        xml.Element("UploadId"u8, uploadId);
        xml.Element("IsTruncated"u8, false);
        foreach (var part in parts)
        {
            xml.Start("Part"u8);
            xml.Element("PartNumber"u8, part.PartNumber);
            xml.Element("LastModified"u8, part.LastModified);
            xml.Element("ETag"u8, part.ETag);
            xml.Element("Size"u8, part.Size);
            xml.End("Part"u8);
        }

        xml.End("ListPartsResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    private async ValueTask<S3Error?> DeleteObjectsAsync(HttpContext context, Dataset dataset, IWritableObjectSource source, CancellationToken cancellationToken)
    {
        var headers = context.Request.Headers;
        var hasDigest = headers.ContainsKey("Content-MD5") || headers.ContainsKey("x-amz-trailer");
        foreach (var (name, _) in headers)
        {
            hasDigest |= name.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase) && !name.Equals("x-amz-checksum-algorithm", StringComparison.OrdinalIgnoreCase);
        }

        if (!hasDigest)
        {
            return new S3Error(400, "InvalidRequest", "DeleteObjects requires a Content-MD5 or x-amz-checksum-* header; nothing was deleted.") { BucketName = dataset.Name };
        }

        var xmlBody = await ReadXmlBodyAsync(context.Request, cancellationToken);
        var keys = new List<string>();
        var quiet = false;
        using (var reader = XmlReader.Create(new MemoryStream(xmlBody), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null }))
        {
            reader.Read();
            while (!reader.EOF)
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "Quiet")
                {
                    quiet = reader.ReadElementContentAsString().Trim().Equals("true", StringComparison.OrdinalIgnoreCase);
                }
                else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "Key")
                {
                    keys.Add(reader.ReadElementContentAsString());
                }
                else
                {
                    reader.Read();
                }
            }
        }

        if (keys.Count > 1000)
        {
            return new S3Error(400, "MalformedXML", $"DeleteObjects lists {keys.Count} keys; at most 1000 are allowed. Nothing was deleted.") { BucketName = dataset.Name };
        }

        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("DeleteResult"u8);
        foreach (var key in keys)
        {
            if (!ObjectKeys.IsSafeRelativeKey(key))
            {
                xml.Start("Error"u8);
                xml.Element("Key"u8, key);
                xml.Element("Code"u8, "InvalidArgument");
                xml.Element("Message"u8, "The key is not a valid dataset key.");
                xml.End("Error"u8);
                continue;
            }

            try
            {
                await source.DeleteAsync(key, cancellationToken);
                cache?.InvalidateObject(dataset, key);
                if (!quiet)
                {
                    xml.Start("Deleted"u8);
                    xml.Element("Key"u8, key);
                    xml.End("Deleted"u8);
                }
            }
            catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or IOException or UnauthorizedAccessException)
            {
                xml.Start("Error"u8);
                xml.Element("Key"u8, key);
                xml.Element("Code"u8, "InternalError");
                xml.Element("Message"u8, e.Message);
                xml.End("Error"u8);
            }
        }

        xml.End("DeleteResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    /// <summary>A small XML request body, decoded and verified like any upload.</summary>
    private static async ValueTask<byte[]> ReadXmlBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        await using var body = UploadBody.Open(request);
        var buffer = ArrayPool<byte>.Shared.Rent(MaxXmlBody);
        try
        {
            var length = await ReadBoundedAsync(body, buffer, MaxXmlBody, "XML body", cancellationToken);
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<int> ReadBoundedAsync(Stream body, byte[] buffer, int limit, string what, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var read = await body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length), cancellationToken);
            if (read == 0)
            {
                return length;
            }

            length += read;
            if (length > limit)
            {
                throw new UploadRejectedException(new S3Error(400, "EntityTooLarge", $"The {what} is larger than the {limit} bytes the sidecar accepts; nothing was stored."));
            }
        }
    }

    private static T? InnermostOfType<T>(Exception exception)
        where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T match)
            {
                return match;
            }
        }

        return null;
    }

    private static ObjectWriteOptions WriteOptions(HttpRequest request)
    {
        var metadata = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in request.Headers)
        {
            if (name.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            {
                metadata.Add(new(name["x-amz-meta-".Length..].ToLowerInvariant(), value.ToString()));
            }
        }

        var contentType = request.ContentType;
        return new ObjectWriteOptions(string.IsNullOrEmpty(contentType) ? null : contentType, metadata);
    }
}
