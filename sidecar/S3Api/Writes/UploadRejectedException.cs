namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// A request body (or its headers) that must not be stored: thrown from the decoding streams so whatever is
/// uploading aborts, and turned into the carried S3 error by the write responder.
/// </summary>
internal sealed class UploadRejectedException(S3Error error) : Exception(error.Message)
{
    public S3Error Error { get; } = error;

    public static UploadRejectedException BadDigest(string message) => new(new S3Error(400, "BadDigest", message));

    public static UploadRejectedException IncompleteBody(string message) => new(new S3Error(400, "IncompleteBody", message));

    /// <summary>More than S3's 5 GiB for one PUT or one part.</summary>
    public static UploadRejectedException EntityTooLarge(long bytes) =>
        new(new S3Error(400, "EntityTooLarge", $"The body has at least {bytes} bytes; a single PUT or part may have at most {WriteResponder.MaxPartSize} (5 GiB, S3's limit; larger objects need a multipart upload). Nothing was stored."));

    public static UploadRejectedException InvalidRequest(string message) => new(new S3Error(400, "InvalidRequest", message));
}
