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

    public static UploadRejectedException InvalidRequest(string message) => new(new S3Error(400, "InvalidRequest", message));
}
