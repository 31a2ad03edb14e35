using System.Globalization;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// GetObject and HeadObject. Order of checks, as S3: the object must exist (404 NoSuchKey), then partNumber/Range
/// are validated, then preconditions (412 / 304), then the range is resolved (416), then headers and the body,
/// streamed block by block through the <see cref="IObjectReader"/> (never the whole object in memory).
/// </summary>
internal sealed class ObjectResponder(IObjectReader reader)
{
    public const int MaxPartNumber = 10_000;

    /// <summary>response-* query parameters and the header each one overrides on a successful GET/HEAD.</summary>
    private static readonly (string Query, string Header)[] ResponseOverrides =
    [
        ("response-content-type", HeaderNames.ContentType),
        ("response-content-language", HeaderNames.ContentLanguage),
        ("response-expires", HeaderNames.Expires),
        ("response-cache-control", HeaderNames.CacheControl),
        ("response-content-disposition", HeaderNames.ContentDisposition),
        ("response-content-encoding", HeaderNames.ContentEncoding),
    ];

    /// <summary>The last Last-Modified text: ranged reads of one object format the same date thousands of times a second.</summary>
    private HttpDate? _lastModified;

    public async ValueTask<S3Error?> RespondAsync(HttpContext context, Dataset dataset, string key, bool headOnly, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var response = context.Response;
        var obj = await dataset.Source.HeadAsync(key, cancellationToken);
        if (obj is null)
        {
            return S3Error.NoSuchKey(dataset.Name, key);
        }

        var rangeHeader = request.Headers[HeaderNames.Range].ToString();
        var partNumberText = request.Query["partNumber"];
        var wholeAsPart = false;
        if (partNumberText.Count > 0)
        {
            if (!int.TryParse(partNumberText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber)
                || partNumber is < 1 or > MaxPartNumber)
            {
                return S3Error.InvalidArgument($"Part number must be an integer between 1 and {MaxPartNumber}, inclusive (got '{partNumberText}').");
            }

            if (rangeHeader.Length > 0)
            {
                return new S3Error(StatusCodes.Status400BadRequest, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter");
            }

            // Objects served here are never multipart uploads: part 1 is the whole object, nothing else exists.
            if (partNumber != 1)
            {
                return S3Error.InvalidPartNumber(obj.Size) with { BucketName = dataset.Name, Key = key };
            }

            wholeAsPart = true;
        }

        SetValidators(response, obj);
        switch (ConditionalRequest.Evaluate(request.Headers, obj.ETag, obj.LastModified, out var failed))
        {
            case ConditionOutcome.PreconditionFailed:
                return S3Error.PreconditionFailed(failed!) with { BucketName = dataset.Name, Key = key };
            case ConditionOutcome.NotModified:
                // 304 carries the validators (ETag, Last-Modified) and no body or Content-* headers.
                response.StatusCode = StatusCodes.Status304NotModified;
                return null;
        }

        var range = wholeAsPart && obj.Size > 0
            ? new ByteRange(RangeOutcome.Partial, 0, obj.Size)
            : ByteRange.Resolve(rangeHeader, obj.Size);
        if (range.Outcome == RangeOutcome.NotSatisfiable)
        {
            return S3Error.InvalidRange(obj.Size) with { BucketName = dataset.Name, Key = key };
        }

        var headers = response.Headers;
        headers.AcceptRanges = "bytes";
        headers.ContentType = obj.ContentType ?? "application/octet-stream";
        if (obj.VersionId is not null)
        {
            headers["x-amz-version-id"] = obj.VersionId;
        }

        if (range.Outcome == RangeOutcome.Partial)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            headers.ContentRange = range.ContentRange(obj.Size);
        }

        foreach (var (query, header) in ResponseOverrides)
        {
            if (request.Query.TryGetValue(query, out var value) && value.Count > 0)
            {
                headers[header] = value.ToString();
            }
        }

        response.ContentLength = range.Length;
        if (headOnly || range.Length == 0)
        {
            return null;
        }

        await reader.CopyToAsync(dataset, obj, range.Offset, range.Length, new PipeBody(response.BodyWriter, response.StartAsync), cancellationToken);
        return null;
    }

    private void SetValidators(HttpResponse response, RemoteObject obj)
    {
        response.Headers.ETag = obj.ETag;
        response.Headers.LastModified = LastModifiedText(obj.LastModified);
    }

    private string LastModifiedText(DateTimeOffset lastModified)
    {
        var cached = Volatile.Read(ref _lastModified);
        if (cached is null || cached.Value != lastModified)
        {
            cached = new HttpDate(lastModified, lastModified.ToString("r", CultureInfo.InvariantCulture));
            Volatile.Write(ref _lastModified, cached);
        }

        return cached.Text;
    }

    private sealed record HttpDate(DateTimeOffset Value, string Text);
}
