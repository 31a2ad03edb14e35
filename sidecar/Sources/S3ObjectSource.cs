using System.Collections.Concurrent;
using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// An S3 bucket (and optional prefix) through AWSSDK.S3, against AWS or any S3-compatible endpoint. Block reads are
/// ranged GETs pinned with If-Match to the ETag the metadata was read with, so a changed object is detected, never
/// mixed into the cache.
/// </summary>
internal sealed partial class S3ObjectSource : IObjectSource
{
    /// <summary>How many continuation tokens to remember before starting over (see <see cref="ListAsync"/>).</summary>
    private const int MaxRememberedTokens = 4096;

    private readonly S3ClientPool pool;
    private readonly S3ClientSettings settings;
    private readonly string bucket;
    private readonly string rootPrefix;
    private readonly ConcurrentDictionary<(string Prefix, string? Delimiter, string StartAfter), string> continuationTokens = new();

    public S3ObjectSource(S3ClientPool pool, S3ClientSettings settings, string bucket, string rootPrefix, string scheme = "s3")
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        this.pool = pool;
        this.settings = settings;
        this.bucket = bucket;
        this.rootPrefix = rootPrefix.Length == 0 || rootPrefix.EndsWith('/') ? rootPrefix : rootPrefix + "/";
        var endpoint = settings.Endpoint is { } url ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : "aws." + settings.Region;
        Identity = $"{scheme}://{endpoint}/{bucket}/{this.rootPrefix}";
    }

    public string Identity { get; }

    private AmazonS3Client Client => pool.Get(settings);

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = rootPrefix + key }, cancellationToken);
            return new RemoteObject(
                key,
                response.ContentLength,
                response.ETag,
                ToOffset(response.LastModified),
                response.Headers.ContentType,
                response.VersionId);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// One ListObjectsV2 call. S3's StartAfter skips keys, not common prefixes: after a page that ended on the
    /// common prefix "photos/", StartAfter=photos/ would return "photos/" again. So the continuation token S3 gave for
    /// each truncated page is remembered under the page's last entry and used when that entry comes back as
    /// StartAfter; without one (forgotten, or a client's own start-after) StartAfter is moved past the common prefix.
    /// </summary>
    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.MaxKeys == 0)
        {
            return ListPage.Empty;
        }

        var s3Request = new ListObjectsV2Request
        {
            BucketName = bucket,
            Prefix = rootPrefix + request.Prefix,
            Delimiter = request.Delimiter,
            MaxKeys = request.MaxKeys,
        };

        if (request.StartAfter is { } startAfter)
        {
            if (continuationTokens.TryGetValue((request.Prefix, request.Delimiter, startAfter), out var token))
            {
                s3Request.ContinuationToken = token;
            }
            else if (request.Delimiter is { Length: > 0 } delimiter && startAfter.EndsWith(delimiter, StringComparison.Ordinal))
            {
                // U+10FFFF is the largest code point, so this sorts after every key below the common prefix that
                // does not itself start with that character.
                s3Request.StartAfter = rootPrefix + startAfter + "\U0010FFFF";
            }
            else
            {
                s3Request.StartAfter = rootPrefix + startAfter;
            }
        }

        ListObjectsV2Response response;
        List<(string Key, RemoteObject? Object)> entries;
        while (true)
        {
            response = await Client.ListObjectsV2Async(s3Request, cancellationToken);
            entries = ToEntries(response, request.StartAfter);

            // A page whose only entry was the common prefix we resume after is empty but not the end: go on.
            if (entries.Count > 0 || response.IsTruncated != true || response.NextContinuationToken is not { } token)
            {
                break;
            }

            s3Request.StartAfter = null;
            s3Request.ContinuationToken = token;
        }

        entries.Sort(static (a, b) => Utf8KeyComparer.Compare(a.Key, b.Key));
        var cut = entries.Count > request.MaxKeys;
        if (cut)
        {
            entries.RemoveRange(request.MaxKeys, entries.Count - request.MaxKeys);
        }

        var objects = new List<RemoteObject>(entries.Count);
        var prefixes = new List<string>();
        foreach (var (key, item) in entries)
        {
            if (item is null)
            {
                prefixes.Add(key);
            }
            else
            {
                objects.Add(item);
            }
        }

        if ((!cut && response.IsTruncated != true) || entries.Count == 0)
        {
            return new ListPage(objects, prefixes, null);
        }

        var last = entries[^1].Key;

        // S3's token continues after S3's page; after a page we cut shorter, StartAfter (the fallback) continues.
        if (!cut && response.NextContinuationToken is { } next)
        {
            if (continuationTokens.Count >= MaxRememberedTokens)
            {
                continuationTokens.Clear();
            }

            continuationTokens[(request.Prefix, request.Delimiter, last)] = next;
        }

        return new ListPage(objects, prefixes, last);
    }

    /// <summary>
    /// Objects and common prefixes of one S3 page, relative to the root prefix. Merged and sorted by the caller rather
    /// than trusted: some S3-compatible stores return a page out of key order or with common prefixes beyond MaxKeys
    /// (s3rver does both). Sorting a page costs nothing next to the round trip.
    /// </summary>
    private List<(string Key, RemoteObject? Object)> ToEntries(ListObjectsV2Response response, string? startAfter)
    {
        var entries = new List<(string Key, RemoteObject? Object)>((response.S3Objects?.Count ?? 0) + (response.CommonPrefixes?.Count ?? 0));
        foreach (var item in response.S3Objects ?? [])
        {
            if (item.Key.StartsWith(rootPrefix, StringComparison.Ordinal))
            {
                var key = item.Key[rootPrefix.Length..];
                entries.Add((key, new RemoteObject(key, item.Size ?? 0, item.ETag, ToOffset(item.LastModified))));
            }
        }

        foreach (var commonPrefix in response.CommonPrefixes ?? [])
        {
            var relative = commonPrefix.StartsWith(rootPrefix, StringComparison.Ordinal) ? commonPrefix[rootPrefix.Length..] : commonPrefix;
            if (relative != startAfter)
            {
                entries.Add((relative, null));
            }
        }

        return entries;
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadRange.ThrowIfOutside(obj, offset, destination.Length);
        if (destination.IsEmpty)
        {
            return;
        }

        using var response = await GetRangeAsync(obj, offset, destination.Length, cancellationToken);
        await StreamReading.FillAsync(response.ResponseStream, destination, obj.Key, cancellationToken);
    }

    /// <summary>One ranged GET for the whole rest of the sink, carved into its parts as the body streams in.</summary>
    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (sink.Remaining == 0)
        {
            return;
        }

        ArgumentNullException.ThrowIfNull(obj);
        if (sink.Offset < 0 || sink.Offset + sink.Remaining > obj.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(sink), $"read of {sink.Remaining} bytes at {sink.Offset} runs past the end of '{obj.Key}' ({obj.Size} bytes)");
        }

        using var response = await GetRangeAsync(obj, sink.Offset, sink.Remaining, cancellationToken);
        await RangeSink.FillFromAsync(response.ResponseStream, sink, obj.Key, cancellationToken);
    }

    /// <summary>
    /// A GET of [offset, offset+length) pinned to the object's ETag, its body positioned at <paramref name="offset"/>.
    /// The caller disposes the response.
    /// </summary>
    private async ValueTask<GetObjectResponse> GetRangeAsync(RemoteObject obj, long offset, long length, CancellationToken cancellationToken)
    {
        GetObjectResponse response;
        try
        {
            response = await Client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = bucket,
                Key = rootPrefix + obj.Key,
                ByteRange = new ByteRange(offset, offset + length - 1),
                EtagToMatch = obj.ETag,
            }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            throw new RemoteObjectChangedException(obj.Key);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        try
        {
            // A store that ignores If-Match still tells us the ETag of what it sent.
            if (!string.IsNullOrEmpty(response.ETag) && response.ETag != obj.ETag)
            {
                throw new RemoteObjectChangedException(obj.Key);
            }

            // A store that ignores Range sends the whole object with 200: skip to the offset rather than cache wrong bytes.
            if (response.HttpStatusCode == HttpStatusCode.OK && offset > 0)
            {
                await StreamReading.SkipAsync(response.ResponseStream, offset, obj.Key, cancellationToken);
            }

            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static DateTimeOffset ToOffset(DateTime? value) =>
        value is { } time ? new DateTimeOffset(time.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.UnixEpoch;
}
