using System.Globalization;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// ListObjectsV2 and ListObjects (v1) over <see cref="IObjectSource.ListAsync"/>: prefix, delimiter with
/// CommonPrefixes, max-keys (0-1000; larger values are capped at 1000 like S3), continuation-token / start-after
/// (v2) or marker (v1), encoding-type=url. Keys come back in UTF-8 binary order (the source's contract).
/// </summary>
internal sealed class ListObjectsResponder
{
    public const int MaxKeysLimit = 1000;
    public const string BadContinuationToken = "The continuation token provided is incorrect";

    public async ValueTask<S3Error?> ListAsync(HttpContext context, Dataset dataset, bool version2, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var prefix = query["prefix"].ToString();
        var delimiterText = query["delimiter"].ToString();
        string? delimiter = delimiterText.Length == 0 ? null : delimiterText;
        var encodingType = query["encoding-type"].ToString();
        if (encodingType.Length > 0 && encodingType != "url")
        {
            return S3Error.InvalidArgument($"Invalid Encoding Method specified in Request: encoding-type '{encodingType}': expected 'url'") with { BucketName = dataset.Name };
        }

        var urlEncode = encodingType.Length > 0;
        var maxKeys = MaxKeysLimit;
        if (query.TryGetValue("max-keys", out var maxKeysText) && maxKeysText.Count > 0)
        {
            if (!long.TryParse(maxKeysText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var requested))
            {
                return S3Error.InvalidArgument($"Provided max-keys not an integer or within integer range: '{maxKeysText}': expected 0-{MaxKeysLimit}") with { BucketName = dataset.Name };
            }

            maxKeys = (int)Math.Min(requested, MaxKeysLimit);
        }

        string? startAfter;
        string? continuationToken = null;
        string? marker = null;
        if (version2)
        {
            startAfter = query["start-after"].ToString() is { Length: > 0 } s ? s : null;
            if (query.TryGetValue("continuation-token", out var tokenValues))
            {
                continuationToken = tokenValues.ToString();
                if (!ContinuationToken.TryDecode(continuationToken, out var lastKey))
                {
                    return S3Error.InvalidArgument(BadContinuationToken) with { BucketName = dataset.Name };
                }

                // The token resumes after the last entry returned; start-after only shapes the first page.
                startAfter = startAfter is not null && string.CompareOrdinal(startAfter, lastKey) > 0 ? startAfter : lastKey;
            }
        }
        else
        {
            marker = query["marker"].ToString();
            startAfter = marker.Length > 0 ? marker : null;
        }

        var page = maxKeys == 0
            ? ListPage.Empty
            : await dataset.Source.ListAsync(new ListRequest(prefix, delimiter, startAfter, maxKeys), cancellationToken);

        using var xml = new S3XmlWriter(16 * 1024);
        xml.StartDocumentElement("ListBucketResult"u8);
        xml.Element("Name"u8, dataset.Name);
        xml.Element("Prefix"u8, Encode(prefix, urlEncode));
        if (version2)
        {
            if (query.ContainsKey("start-after"))
            {
                xml.Element("StartAfter"u8, Encode(query["start-after"].ToString(), urlEncode));
            }

            if (continuationToken is not null)
            {
                xml.Element("ContinuationToken"u8, continuationToken);
            }

            if (page.NextStartAfter is { } next)
            {
                xml.Element("NextContinuationToken"u8, ContinuationToken.Encode(next));
            }

            xml.Element("KeyCount"u8, page.Objects.Count + page.CommonPrefixes.Count);
        }
        else
        {
            xml.Element("Marker"u8, Encode(marker!, urlEncode));
            if (page.NextStartAfter is { } next && delimiter is not null)
            {
                // S3 sends NextMarker only with a delimiter; without one clients resume from the last key.
                xml.Element("NextMarker"u8, Encode(next, urlEncode));
            }
        }

        if (delimiter is not null)
        {
            xml.Element("Delimiter"u8, Encode(delimiter, urlEncode));
        }

        xml.Element("MaxKeys"u8, maxKeys);
        if (urlEncode)
        {
            xml.Element("EncodingType"u8, "url");
        }

        xml.Element("IsTruncated"u8, page.IsTruncated);
        foreach (var obj in page.Objects)
        {
            xml.Start("Contents"u8);
            xml.Element("Key"u8, Encode(obj.Key, urlEncode));
            xml.Element("LastModified"u8, obj.LastModified);
            xml.Element("ETag"u8, obj.ETag);
            xml.Element("Size"u8, obj.Size);
            xml.Element("StorageClass"u8, "STANDARD");
            xml.End("Contents"u8);
        }

        foreach (var commonPrefix in page.CommonPrefixes)
        {
            xml.Start("CommonPrefixes"u8);
            xml.Element("Prefix"u8, Encode(commonPrefix, urlEncode));
            xml.End("CommonPrefixes"u8);
        }

        xml.End("ListBucketResult"u8);
        await xml.WriteToAsync(context.Response, cancellationToken);
        return null;
    }

    private static string Encode(string value, bool urlEncode) => urlEncode ? S3UrlEncoding.Encode(value) : value;
}
