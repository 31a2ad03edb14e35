using System.Diagnostics;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// The S3 endpoint: one request delegate (no MVC, no routing) that gives every request its ids, works out bucket,
/// key and operation from the raw target and host, runs the operation, maps failures to S3 error XML, and records
/// the request metrics. Every request takes one <see cref="DatasetSnapshot"/> and keeps it, so a live config
/// change never splits a request between two configs.
/// </summary>
internal sealed partial class S3RequestHandler
{
    public const string RequestIdHeader = "x-amz-request-id";
    public const string HostIdHeader = "x-amz-id-2";

    /// <summary>Query keys that name a bucket or object subresource this endpoint does not implement.</summary>
    private static readonly HashSet<string> Subresources = new(StringComparer.Ordinal)
    {
        "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
        "inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification", "object-lock",
        "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment",
        "restore", "retention", "select", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website",
    };

    private readonly IDatasetRegistry _datasets;
    private readonly ObjectResponder _objects;
    private readonly ListObjectsResponder _lists;
    private readonly Writes.WriteResponder _writes;
    private readonly Auth.S3AccessPolicy _access;
    private readonly Passthrough.UpstreamForwarder? _upstream;
    private readonly SidecarMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string[] _virtualHostSuffixes;

    public S3RequestHandler(
        IDatasetRegistry datasets,
        IObjectReader reader,
        SidecarMetrics metrics,
        TimeProvider time,
        ILogger<S3RequestHandler> logger,
        IReadOnlyList<string> virtualHostDomains,
        IBlockCache? cache = null,
        Auth.SigV4Verifier? signatures = null,
        Passthrough.UpstreamForwarder? upstream = null,
        Writes.UploadStaging? uploadStaging = null)
    {
        _access = new Auth.S3AccessPolicy(signatures, passthroughConfigured: upstream is not null);
        _upstream = upstream;
        _datasets = datasets;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _objects = new ObjectResponder(reader);
        _lists = new ListObjectsResponder();
        _writes = new Writes.WriteResponder(cache, uploadStaging ?? Writes.UploadStaging.InTempDirectory());
        _virtualHostSuffixes = [.. virtualHostDomains.Select(domain => "." + domain)];
    }

    public async Task HandleAsync(HttpContext context)
    {
        var started = _time.GetTimestamp();
        var requestId = RequestIds.NextRequestId();
        var response = context.Response;
        response.Headers[RequestIdHeader] = requestId;
        response.Headers[HostIdHeader] = RequestIds.HostId;

        // S3's limits, not Kestrel's 30 MB default: a PUT or a part may carry up to 5 GiB (UploadBody refuses more
        // with EntityTooLarge). Bodies stream, so no limit here costs memory.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySizeLimit)
        {
            bodySizeLimit.MaxRequestBodySize = null;
        }

        var operation = S3Operation.InvalidRequest;
        try
        {
            var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
            var parseError = S3RequestTarget.TryParse(rawTarget, VirtualHostBucket(context.Request.Host.Host), out var target);
            operation = parseError is null ? Classify(context.Request, target) : S3Operation.InvalidRequest;
            var snapshot = _datasets.Current;
            var error = parseError is not null
                ? S3Error.InvalidArgument(parseError)
                : _access.Check(context, operation, target, snapshot) ?? await ExecuteAsync(context, operation, target, snapshot);
            if (error is not null)
            {
                await WriteErrorAsync(context, error, requestId);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (SourceUnavailableException e) when (!response.HasStarted)
        {
            LogRemoteUnavailable(_logger, requestId, e.Message);
            var bucket = BucketOf(context);
            _metrics.RecordRemoteError(bucket, "unavailable");
            await WriteErrorAsync(context, S3Error.ServiceUnavailable(bucket, e.Message), requestId);
        }
        catch (RemoteObjectNotFoundException) when (!response.HasStarted)
        {
            await WriteErrorAsync(context, S3Error.NoSuchKey(BucketOf(context), context.Request.Path.Value ?? ""), requestId);
        }
        catch (Exception e) when (!response.HasStarted)
        {
            LogUnexpected(_logger, e, requestId, operation.Name());
            await WriteErrorAsync(context, S3Error.InternalError("The sidecar failed to serve the request; see its log for request id " + requestId), requestId);
        }
        catch (Exception e)
        {
            // Headers (and maybe bytes) are out: the only honest signal left is cutting the connection, so the
            // client sees a short body instead of wrong bytes.
            LogAbortedMidBody(_logger, e, requestId, operation.Name());
            context.Abort();
        }
        finally
        {
            var elapsed = _time.GetElapsedTime(started);
            var bodyBytes = HttpMethods.IsHead(context.Request.Method) ? 0 : response.ContentLength ?? 0;
            _metrics.RecordRequest(operation.Name(), response.StatusCode, elapsed.TotalSeconds, bodyBytes);
        }
    }

    /// <summary>Virtual-host style: the bucket is everything before ".{domain}" for a configured domain.</summary>
    private string? VirtualHostBucket(string host)
    {
        foreach (var suffix in _virtualHostSuffixes)
        {
            if (host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return host[..^suffix.Length].ToLowerInvariant();
            }
        }

        return null;
    }

    internal static S3Operation Classify(HttpRequest request, S3RequestTarget target)
    {
        var method = request.Method;
        var isGet = HttpMethods.IsGet(method);
        var isHead = HttpMethods.IsHead(method);
        var query = request.Query;
        if (target.Bucket is null)
        {
            return isGet || isHead ? S3Operation.ListBuckets : S3Operation.MethodNotAllowed;
        }

        return target.Key is null ? ClassifyBucket(method, isGet, isHead, query) : ClassifyObject(request, method, isGet, isHead, query);
    }

    private static S3Operation ClassifyBucket(string method, bool isGet, bool isHead, IQueryCollection query)
    {
        if (isHead)
        {
            return S3Operation.HeadBucket;
        }

        if (isGet)
        {
            if (query.ContainsKey("location"))
            {
                return S3Operation.GetBucketLocation;
            }

            if (query.ContainsKey("uploads"))
            {
                return S3Operation.ListMultipartUploads;
            }

            if (HasSubresource(query))
            {
                return S3Operation.UnsupportedSubresource;
            }

            return query["list-type"] == "2" ? S3Operation.ListObjectsV2 : S3Operation.ListObjects;
        }

        return method switch
        {
            "PUT" => S3Operation.PutBucket,
            "POST" => query.ContainsKey("delete") ? S3Operation.DeleteObjects : S3Operation.PostBucket,
            "DELETE" => S3Operation.DeleteBucket,
            _ => S3Operation.MethodNotAllowed,
        };
    }

    private static S3Operation ClassifyObject(HttpRequest request, string method, bool isGet, bool isHead, IQueryCollection query)
    {
        var hasUploadId = query["uploadId"].ToString().Length > 0;
        if (isGet || isHead)
        {
            if (!HasSubresource(query))
            {
                return isGet ? S3Operation.GetObject : S3Operation.HeadObject;
            }

            // ListParts takes only its own parameters; anything more is a subresource the sidecar does not serve.
            var listPartsOnly = query.Count == 1 + (query.ContainsKey("max-parts") ? 1 : 0) + (query.ContainsKey("part-number-marker") ? 1 : 0);
            return isGet && hasUploadId && listPartsOnly ? S3Operation.ListParts : S3Operation.UnsupportedSubresource;
        }

        return method switch
        {
            "PUT" when hasUploadId => S3Operation.UploadPart,
            "PUT" when request.Headers.ContainsKey("x-amz-copy-source") => S3Operation.CopyObject,
            "PUT" => HasUnsupportedWriteSubresource(query) ? S3Operation.UnsupportedWriteSubresource : S3Operation.PutObject,
            "POST" when query.ContainsKey("uploads") => S3Operation.CreateMultipartUpload,
            "POST" when hasUploadId => S3Operation.CompleteMultipartUpload,
            "POST" => S3Operation.PostObject,
            "DELETE" when hasUploadId => S3Operation.AbortMultipartUpload,
            "DELETE" => HasUnsupportedWriteSubresource(query) ? S3Operation.UnsupportedWriteSubresource : S3Operation.DeleteObject,
            _ => S3Operation.MethodNotAllowed,
        };
    }

    /// <summary>Object subresources a PUT or DELETE may name that the sidecar does not serve (a plain write ignores the rest, as before).</summary>
    private static bool HasUnsupportedWriteSubresource(IQueryCollection query) =>
        query.ContainsKey("tagging") || query.ContainsKey("acl") || query.ContainsKey("retention") || query.ContainsKey("legal-hold");

    private static bool HasSubresource(IQueryCollection query)
    {
        foreach (var (name, _) in query)
        {
            if (Subresources.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private async ValueTask<S3Error?> ExecuteAsync(HttpContext context, S3Operation operation, S3RequestTarget target, DatasetSnapshot snapshot)
    {
        var resource = context.Request.Path.Value ?? "/";
        if (operation == S3Operation.MethodNotAllowed)
        {
            return S3Error.MethodNotAllowed(context.Request.Method, resource);
        }

        if (operation == S3Operation.ListBuckets)
        {
            await BucketResponder.ListBucketsAsync(context, snapshot);
            return null;
        }

        if (!snapshot.TryGet(target.Bucket!, out var dataset))
        {
            return _upstream is null ? S3Error.NoSuchBucket(target.Bucket!) : await _upstream.ForwardAsync(context, target.Bucket!);
        }

        if (operation.IsWrite())
        {
            return dataset.ReadOnly
                ? S3Error.AccessDenied($"Dataset '{dataset.Name}' is read-only: {operation.Name()} is refused and nothing was changed.") with { BucketName = dataset.Name, Key = target.Key }
                : await _writes.RespondAsync(context, operation, dataset, target.Key, context.RequestAborted);
        }

        var cancellationToken = context.RequestAborted;
        switch (operation)
        {
            case S3Operation.HeadBucket:
                BucketResponder.HeadBucket(context);
                return null;
            case S3Operation.GetBucketLocation:
                await BucketResponder.GetBucketLocationAsync(context);
                return null;
            case S3Operation.ListObjectsV2:
                return await _lists.ListAsync(context, dataset, version2: true, cancellationToken);
            case S3Operation.ListObjects:
                return await _lists.ListAsync(context, dataset, version2: false, cancellationToken);
            case S3Operation.GetObject:
            case S3Operation.HeadObject:
                return await _objects.RespondAsync(context, dataset, target.Key!, operation == S3Operation.HeadObject, cancellationToken);
            default:
                return S3Error.NotImplemented($"the '{FirstSubresource(context.Request.Query)}' subresource is not supported by the sidecar") with { BucketName = dataset.Name, Key = target.Key };
        }
    }

    private static string FirstSubresource(IQueryCollection query)
    {
        foreach (var (name, _) in query)
        {
            if (Subresources.Contains(name))
            {
                return name;
            }
        }

        return "?";
    }

    private static string BucketOf(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "/";
        return S3RequestTarget.TryParse(raw, null, out var target) is null ? target.Bucket ?? "" : "";
    }

    private static Task WriteErrorAsync(HttpContext context, S3Error error, string requestId)
    {
        // An error replaces whatever headers the operation had set (ETag, Content-Length…); the ids stay.
        var response = context.Response;
        var hostId = response.Headers[HostIdHeader];
        response.Clear();
        response.Headers[RequestIdHeader] = requestId;
        response.Headers[HostIdHeader] = hostId;
        return S3ErrorWriter.WriteAsync(context, error, requestId);
    }

    [LoggerMessage(EventId = EventIds.RemoteUnavailable, Level = LogLevel.Warning, Message = "Request {RequestId}: remote unavailable and not cached: {Reason}")]
    private static partial void LogRemoteUnavailable(ILogger logger, string requestId, string reason);

    [LoggerMessage(EventId = EventIds.RequestFailed, Level = LogLevel.Error, Message = "Request {RequestId} ({Operation}) failed before its response started")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string requestId, string operation);

    [LoggerMessage(EventId = EventIds.RequestAbortedMidBody, Level = LogLevel.Warning, Message = "Request {RequestId} ({Operation}) failed while streaming its body; the connection was cut")]
    private static partial void LogAbortedMidBody(ILogger logger, Exception exception, string requestId, string operation);
}
