namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// One remote store behind a dataset (S3, HTTP, a local/NFS directory, …). Adding a storage system is one class
/// implementing this. Implementations are thread-safe; every call goes through the source's resilience pipeline.
/// Keys are dataset-relative ("dir/file.bin", no leading slash) and already validated against traversal.
/// </summary>
internal interface IObjectSource : IAsyncDisposable
{
    /// <summary>
    /// Stable identity of where bytes come from (e.g. "s3://endpoint/bucket/prefix/"). It is part of every cache
    /// key, so switching a dataset to another source never serves the old source's blocks.
    /// </summary>
    string Identity { get; }

    /// <summary>Metadata of one object, or null when it does not exist.</summary>
    ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// One page of a listing in UTF-8 binary key order. With a delimiter, keys below the next delimiter roll up
    /// into <see cref="ListPage.CommonPrefixes"/> (each counted once against <see cref="ListRequest.MaxKeys"/>).
    /// </summary>
    ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Fills <paramref name="destination"/> completely with the bytes of <paramref name="obj"/> starting at
    /// <paramref name="offset"/>. Throws <see cref="RemoteObjectChangedException"/> when the remote object no longer
    /// has <see cref="RemoteObject.ETag"/>, <see cref="RemoteObjectNotFoundException"/> when it is gone, and
    /// <see cref="SourceUnavailableException"/> when the remote fails after retries.
    /// </summary>
    ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>
    /// Streams bytes [<see cref="RangeSink.Offset"/>, +<see cref="RangeSink.Remaining"/>) of <paramref name="obj"/>
    /// into <paramref name="sink"/> in order, with one remote request where the source can (a ranged GET), so a run
    /// of adjacent cache blocks costs one request rather than one per block. Same exceptions as
    /// <see cref="ReadAsync"/>. A call after a failure resumes at the sink's offset. The default reads part by part.
    /// </summary>
    ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken) =>
        RangeSink.ReadPartByPartAsync(this, obj, sink, cancellationToken);
}

/// <summary>Metadata of one remote object. <see cref="ETag"/> is quoted as S3 sends it ("\"abc\"").</summary>
internal sealed record RemoteObject(
    string Key,
    long Size,
    string ETag,
    DateTimeOffset LastModified,
    string? ContentType = null,
    string? VersionId = null);

/// <summary>
/// A listing request. <see cref="StartAfter"/> is exclusive; null Delimiter means a flat listing. When StartAfter equals
/// a common prefix (it ends with the delimiter), the whole prefix is skipped, so a <see cref="ListPage.NextStartAfter"/>
/// that is a common prefix resumes after it (S3's own start-after would return that prefix again).
/// </summary>
internal sealed record ListRequest(string Prefix, string? Delimiter, string? StartAfter, int MaxKeys);

/// <summary>
/// A listing page. <see cref="NextStartAfter"/> is the last key or common prefix returned when more remain,
/// null when the listing is complete.
/// </summary>
internal sealed record ListPage(
    IReadOnlyList<RemoteObject> Objects,
    IReadOnlyList<string> CommonPrefixes,
    string? NextStartAfter)
{
    public bool IsTruncated => NextStartAfter is not null;
    public static readonly ListPage Empty = new([], [], null);
}
