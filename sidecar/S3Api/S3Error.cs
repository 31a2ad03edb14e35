using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>An S3 error response: HTTP status, S3 error code, a message that names the input, and its subject.</summary>
internal sealed record S3Error(int Status, string Code, string Message)
{
    public string? BucketName { get; init; }
    public string? Key { get; init; }

    /// <summary>Extra headers, e.g. <c>Content-Range: bytes */N</c> on InvalidRange.</summary>
    public string? ContentRange { get; init; }

    public static S3Error NoSuchBucket(string bucket) =>
        new(StatusCodes.Status404NotFound, "NoSuchBucket", "The specified bucket does not exist") { BucketName = bucket };

    public static S3Error NoSuchKey(string bucket, string key) =>
        new(StatusCodes.Status404NotFound, "NoSuchKey", "The specified key does not exist.") { BucketName = bucket, Key = key };

    public static S3Error InvalidArgument(string message) =>
        new(StatusCodes.Status400BadRequest, "InvalidArgument", message);

    public static S3Error InvalidRange(long size) =>
        new(StatusCodes.Status416RangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
        {
            ContentRange = "bytes */" + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    public static S3Error InvalidPartNumber(long size) =>
        new(StatusCodes.Status416RangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable")
        {
            ContentRange = "bytes */" + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    public static S3Error PreconditionFailed(string condition) =>
        new(StatusCodes.Status412PreconditionFailed, "PreconditionFailed", $"At least one of the pre-conditions you specified did not hold: {condition}");

    public static S3Error MethodNotAllowed(string method, string resource) =>
        new(StatusCodes.Status405MethodNotAllowed, "MethodNotAllowed", $"The specified method '{method}' is not allowed against '{resource}'.");

    public static S3Error ServiceUnavailable(string dataset, string reason) =>
        new(StatusCodes.Status503ServiceUnavailable, "ServiceUnavailable",
            $"The remote source of dataset '{dataset}' is unavailable and the requested bytes are not cached: {reason}")
        { BucketName = dataset };

    public static S3Error NotImplemented(string what) =>
        new(StatusCodes.Status501NotImplemented, "NotImplemented", $"A header or query you provided implies functionality that is not implemented: {what}");

    public static S3Error AccessDenied(string message) =>
        new(StatusCodes.Status403Forbidden, "AccessDenied", message);

    public static S3Error InternalError(string message) =>
        new(StatusCodes.Status500InternalServerError, "InternalError", message);
}
