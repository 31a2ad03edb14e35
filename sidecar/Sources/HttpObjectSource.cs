using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Files under an HTTP(S) base URL. HTTP has no listing, so the file list comes from a listing file at the origin
/// (option <c>listing</c>, one <c>key[\tsize]</c> line per object) or from the dataset options (<c>files</c>); each
/// listed object's size and ETag come from a HEAD, so what is listed is what a read will see. Block reads are range
/// GETs made conditional on the origin's strong ETag (If-Match, plus If-Range for origins that ignore If-Match).
/// </summary>
internal sealed class HttpObjectSource : IObjectSource
{
    private const int ListHeadParallelism = 16;

    // Marks ETags this source made up because the origin gave no strong one: those cannot go into If-Match.
    private const string SynthesizedETagPrefix = "\"h-";

    private readonly HttpClient client;
    private readonly Uri baseUri;
    private readonly string? listingKey;
    private readonly IReadOnlyList<ListingEntry>? inlineFiles;
    private readonly IReadOnlyList<KeyValuePair<string, string>> headers;
    private readonly SemaphoreSlim listingLock = new(1, 1);
    private CachedListing? listing;

    public HttpObjectSource(HttpClient client, Uri baseUri, string? listingKey, IReadOnlyList<string>? files, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(baseUri);
        this.client = client;
        this.baseUri = baseUri.AbsoluteUri.EndsWith('/') ? baseUri : new Uri(baseUri.AbsoluteUri + "/");
        this.listingKey = listingKey;
        this.headers = headers;
        if (files is not null)
        {
            inlineFiles = ParseListing(files, "option 'files'");
        }

        Identity = this.baseUri.AbsoluteUri;
    }

    public string Identity { get; }

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        if (!ObjectKeys.IsSafeRelativeKey(key))
        {
            return null;
        }

        using var request = NewRequest(HttpMethod.Head, key);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.MethodNotAllowed)
        {
            return await HeadWithRangeGetAsync(key, cancellationToken);
        }

        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
        {
            return null;
        }

        EnsureSuccess(response, key);
        var size = response.Content.Headers.ContentLength
            ?? throw new InvalidDataException($"origin answered HEAD {request.RequestUri} without Content-Length");
        return ToRemoteObject(key, size, response);
    }

    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var entries = inlineFiles ?? (listingKey is null ? [] : await GetListingAsync(cancellationToken));
        var pager = new ListingPager(request);
        foreach (var entry in entries)
        {
            if (pager.IsFull)
            {
                break;
            }

            pager.Add(new RemoteObject(entry.Key, entry.Size ?? 0, "", DateTimeOffset.UnixEpoch));
        }

        var page = pager.ToPage();
        if (page.Objects.Count == 0)
        {
            return page;
        }

        // The listing names objects; the origin says what they are now. An entry the origin no longer has is left out.
        var heads = new RemoteObject?[page.Objects.Count];
        await Parallel.ForAsync(0, heads.Length, new ParallelOptions { MaxDegreeOfParallelism = ListHeadParallelism, CancellationToken = cancellationToken },
            async (i, token) => heads[i] = await HeadAsync(page.Objects[i].Key, token));
        var objects = new List<RemoteObject>(heads.Length);
        foreach (var head in heads)
        {
            if (head is not null)
            {
                objects.Add(head);
            }
        }

        return new ListPage(objects, page.CommonPrefixes, page.NextStartAfter);
    }

    public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadRange.ThrowIfOutside(obj, offset, destination.Length);
        if (destination.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        return ReadRangeAsync(obj, offset, destination.Length, (body, ct) => StreamReading.FillAsync(body, destination, obj.Key, ct), cancellationToken);
    }

    /// <summary>One range GET for the whole rest of the sink, carved into its parts as the body streams in.</summary>
    public ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (sink.Remaining == 0)
        {
            return ValueTask.CompletedTask;
        }

        ArgumentNullException.ThrowIfNull(obj);
        if (sink.Offset < 0 || sink.Offset + sink.Remaining > obj.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(sink), $"read of {sink.Remaining} bytes at {sink.Offset} runs past the end of '{obj.Key}' ({obj.Size} bytes)");
        }

        return ReadRangeAsync(obj, sink.Offset, sink.Remaining, (body, ct) => RangeSink.FillFromAsync(body, sink, obj.Key, ct), cancellationToken);
    }

    /// <summary>A GET of [offset, offset+length) checked against the object's validators; <paramref name="consume"/> reads the body from offset.</summary>
    private async ValueTask ReadRangeAsync(RemoteObject obj, long offset, long length, Func<Stream, CancellationToken, ValueTask> consume, CancellationToken cancellationToken)
    {
        if (!ObjectKeys.IsSafeRelativeKey(obj.Key))
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        using var request = NewRequest(HttpMethod.Get, obj.Key);
        request.Headers.Range = new RangeHeaderValue(offset, offset + length - 1);
        var strongETag = !obj.ETag.StartsWith(SynthesizedETagPrefix, StringComparison.Ordinal);
        if (strongETag)
        {
            var tag = new EntityTagHeaderValue(obj.ETag);
            request.Headers.IfMatch.Add(tag);
            request.Headers.IfRange = new RangeConditionHeaderValue(tag);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        switch (response.StatusCode)
        {
            case HttpStatusCode.PreconditionFailed or HttpStatusCode.RequestedRangeNotSatisfiable:
                throw new RemoteObjectChangedException(obj.Key);
            case HttpStatusCode.NotFound or HttpStatusCode.Gone:
                throw new RemoteObjectNotFoundException(obj.Key);
        }

        EnsureSuccess(response, obj.Key);

        // Whatever the origin did with the conditions, what it sent must be the version we read the metadata of.
        var total = response.StatusCode == HttpStatusCode.PartialContent ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength;
        if (total != obj.Size || ToRemoteObject(obj.Key, obj.Size, response).ETag != obj.ETag)
        {
            throw new RemoteObjectChangedException(obj.Key);
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (response.Content.Headers.ContentRange?.From != offset)
            {
                throw new InvalidDataException($"origin answered a range request for '{obj.Key}' at {offset} with Content-Range {response.Content.Headers.ContentRange}");
            }
        }
        else if (offset > 0)
        {
            // The origin ignored Range and sent the whole object: skip to the offset.
            await StreamReading.SkipAsync(body, offset, obj.Key, cancellationToken);
        }

        await consume(body, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        listingLock.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>For origins that refuse HEAD: a one-byte range GET tells the size (Content-Range) and the validators.</summary>
    private async Task<RemoteObject?> HeadWithRangeGetAsync(string key, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Get, key);
        request.Headers.Range = new RangeHeaderValue(0, 0);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
        {
            return null;
        }

        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return ToRemoteObject(key, 0, response);
        }

        EnsureSuccess(response, key);
        var size = (response.StatusCode == HttpStatusCode.PartialContent ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength)
            ?? throw new InvalidDataException($"origin answered GET {request.RequestUri} without a size");
        return ToRemoteObject(key, size, response);
    }

    /// <summary>
    /// The object's metadata from a response. A strong origin ETag is used as is; otherwise (no ETag, or a weak one
    /// that If-Match cannot use) the ETag is a hash of what the origin does say, so a change still shows.
    /// </summary>
    private static RemoteObject ToRemoteObject(string key, long size, HttpResponseMessage response)
    {
        var lastModified = response.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch;
        var originTag = response.Headers.ETag;
        string etag;
        if (originTag is { IsWeak: false })
        {
            etag = originTag.Tag;
        }
        else
        {
            var weak = originTag?.Tag ?? "";
            var buffer = new byte[16 + Encoding.UTF8.GetByteCount(weak)];
            BinaryPrimitives.WriteInt64LittleEndian(buffer, size);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), lastModified.ToUnixTimeSeconds());
            Encoding.UTF8.GetBytes(weak, buffer.AsSpan(16));
            etag = string.Create(CultureInfo.InvariantCulture, $"{SynthesizedETagPrefix}{XxHash64.HashToUInt64(buffer):x16}\"");
        }

        return new RemoteObject(key, size, etag, lastModified, response.Content.Headers.ContentType?.ToString());
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string key)
    {
        var request = new HttpRequestMessage(method, new Uri(baseUri, ObjectKeys.EscapePath(key)));
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>
    /// Throws for a failed response. The status code travels in the <see cref="HttpRequestException"/>, where the
    /// resilience pipeline reads it: 5xx, 408 and 429 are retried, other 4xx are not.
    /// </summary>
    private static void EnsureSuccess(HttpResponseMessage response, string key)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"origin answered {(int)response.StatusCode} {response.ReasonPhrase} for '{key}'",
                inner: null,
                response.StatusCode);
        }
    }

    private async ValueTask<IReadOnlyList<ListingEntry>> GetListingAsync(CancellationToken cancellationToken)
    {
        await listingLock.WaitAsync(cancellationToken);
        try
        {
            // Revalidated on every listing (the metadata cache above limits how often): a 304 reuses the parsed file.
            using var request = NewRequest(HttpMethod.Get, listingKey!);
            if (listing?.ETag is { } known)
            {
                request.Headers.IfNoneMatch.Add(known);
            }

            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotModified && listing is not null)
            {
                return listing.Entries;
            }

            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new InvalidDataException($"listing file '{listingKey}' does not exist at {baseUri} (option 'listing')");
            }

            EnsureSuccess(response, listingKey!);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var entries = ParseListing(text.Split('\n'), $"listing file '{listingKey}'");
            listing = new CachedListing(response.Headers.ETag, entries);
            return entries;
        }
        finally
        {
            listingLock.Release();
        }
    }

    /// <summary>
    /// Parses "key[\tsize]" lines (blank lines and "#" comments skipped) into entries in S3 key order, without
    /// duplicates. A line whose key could escape the base URL, or whose size is not a number, names itself.
    /// </summary>
    internal static IReadOnlyList<ListingEntry> ParseListing(IEnumerable<string> lines, string where)
    {
        var entries = new List<ListingEntry>();
        var lineNumber = 0;
        foreach (var raw in lines)
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#'))
            {
                continue;
            }

            var columns = line.Split('\t');
            var key = columns[0].Trim();
            if (!ObjectKeys.IsSafeRelativeKey(key))
            {
                throw new InvalidDataException($"{where} line {lineNumber}: '{key}' is not a relative object key (no leading '/', no '.' or '..' segments)");
            }

            long? size = null;
            if (columns.Length > 1 && columns[1].Length > 0)
            {
                if (!long.TryParse(columns[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                {
                    throw new InvalidDataException($"{where} line {lineNumber}: size '{columns[1]}' is not a non-negative integer");
                }

                size = parsed;
            }

            entries.Add(new ListingEntry(key, size));
        }

        entries.Sort(static (a, b) => Utf8KeyComparer.Compare(a.Key, b.Key));
        var unique = new List<ListingEntry>(entries.Count);
        foreach (var entry in entries)
        {
            if (unique.Count == 0 || unique[^1].Key != entry.Key)
            {
                unique.Add(entry);
            }
        }

        return unique;
    }

    internal sealed record ListingEntry(string Key, long? Size);

    private sealed record CachedListing(EntityTagHeaderValue? ETag, IReadOnlyList<ListingEntry> Entries);
}
