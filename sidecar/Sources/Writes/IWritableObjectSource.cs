namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// A source that accepts writes through the sidecar (write-through: the remote is the only copy). Writes are not
/// retried by the resilience pipeline (a request body cannot be replayed); a failure is reported to the client,
/// which retries the whole request. A write either stores the whole object or nothing.
/// </summary>
internal interface IWritableObjectSource
{
    /// <summary>
    /// Stores <paramref name="content"/> (read to its end; the read that reaches the end may throw to veto the write)
    /// under <paramref name="key"/>, replacing any object there. Returns the new object's quoted ETag.
    /// </summary>
    ValueTask<string> PutAsync(string key, Stream content, ObjectWriteOptions options, CancellationToken cancellationToken);

    /// <summary>Deletes <paramref name="key"/>; deleting a missing key succeeds (as S3).</summary>
    ValueTask DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>Copies an object within the source; returns the copy's metadata, or null when the source key does not exist.</summary>
    ValueTask<RemoteObject?> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken);
}

/// <summary>What a write carries besides the bytes.</summary>
internal sealed record ObjectWriteOptions(string? ContentType, IReadOnlyList<KeyValuePair<string, string>> Metadata)
{
    public static readonly ObjectWriteOptions None = new(null, []);
}

/// <summary>Finds the writable source under the wrappers (metadata cache, resilience) of a dataset's source.</summary>
internal static class WritableSources
{
    public static IWritableObjectSource? Find(IObjectSource source)
    {
        var current = source;
        for (var depth = 0; depth < 8; depth++)
        {
            switch (current)
            {
                case IWritableObjectSource writable:
                    return writable;
                case IObjectSourceWrapper wrapper:
                    current = wrapper.Inner;
                    break;
                default:
                    return null;
            }
        }

        return null;
    }
}
