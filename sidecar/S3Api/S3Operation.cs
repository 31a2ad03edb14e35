namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>What an S3 request asks for; also the "operation" label of the request metrics.</summary>
internal enum S3Operation
{
    InvalidRequest,
    ListBuckets,
    HeadBucket,
    GetBucketLocation,
    ListObjectsV2,
    ListObjects,
    GetObject,
    HeadObject,
    PutObject,
    PostObject,
    DeleteObject,
    PutBucket,
    PostBucket,
    DeleteBucket,
    UnsupportedSubresource,
    MethodNotAllowed,
}

internal static class S3OperationNames
{
    private static readonly string[] Names = Enum.GetNames<S3Operation>();

    public static string Name(this S3Operation operation) => Names[(int)operation];

    public static bool IsWrite(this S3Operation operation) => operation is
        S3Operation.PutObject or S3Operation.PostObject or S3Operation.DeleteObject
        or S3Operation.PutBucket or S3Operation.PostBucket or S3Operation.DeleteBucket;
}
