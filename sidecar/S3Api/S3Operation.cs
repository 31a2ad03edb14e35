namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// What an S3 request asks for, as fine as the S3 API names it; also the "operation" label of the request metrics.
/// Decided once, by <c>S3RequestHandler.Classify</c>; the responders dispatch on it and never look at the method again.
/// </summary>
internal enum S3Operation
{
    InvalidRequest,
    ListBuckets,
    HeadBucket,
    GetBucketLocation,
    ListObjectsV2,
    ListObjects,
    ListMultipartUploads,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    PostObject,
    DeleteObject,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutBucket,
    PostBucket,
    DeleteBucket,
    UnsupportedSubresource,

    /// <summary>A PUT or DELETE of an object subresource the sidecar does not serve (tagging, acl, retention, legal-hold).</summary>
    UnsupportedWriteSubresource,
    MethodNotAllowed,
}

internal static class S3OperationNames
{
    private static readonly string[] Names = Enum.GetNames<S3Operation>();

    public static string Name(this S3Operation operation) => Names[(int)operation];

    /// <summary>
    /// The requests the write responder answers: they change a dataset (or belong to a multipart upload, as ListParts),
    /// so a read-only dataset refuses them with AccessDenied.
    /// </summary>
    public static bool IsWrite(this S3Operation operation) => operation is
        S3Operation.PutObject or S3Operation.CopyObject or S3Operation.PostObject or S3Operation.DeleteObject
        or S3Operation.DeleteObjects or S3Operation.CreateMultipartUpload or S3Operation.UploadPart
        or S3Operation.CompleteMultipartUpload or S3Operation.AbortMultipartUpload or S3Operation.ListParts
        or S3Operation.PutBucket or S3Operation.PostBucket or S3Operation.DeleteBucket
        or S3Operation.UnsupportedWriteSubresource;
}
