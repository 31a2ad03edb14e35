using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// HDFS (and OSS-HDFS through its HDFS-compatible endpoint) over the WebHDFS/HttpFS REST API, which needs no Hadoop
/// client in the pod: GETFILESTATUS for metadata, LISTSTATUS_BATCH (LISTSTATUS where batches are not offered) for
/// listings, OPEN with offset/length for blocks, following the namenode's redirect to a datanode. Simple
/// authentication with user.name, or a delegation token. HDFS has no conditional read, so each block read first
/// checks the file's (length, modification time, fileId) against the ETag.
/// </summary>
internal sealed class WebHdfsObjectSource : IObjectSource
{
    private readonly HttpClient client;
    private readonly string endpoint;
    private readonly string rootPath;
    private readonly string authQuery;
    private volatile bool batchListingUnsupported;

    /// <param name="endpoint">http(s)://namenode:port of the WebHDFS (or HttpFS) server.</param>
    /// <param name="rootPath">The dataset's directory in HDFS, absolute.</param>
    public WebHdfsObjectSource(HttpClient client, string endpoint, string rootPath, string? user, string? delegationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        this.client = client;
        this.endpoint = endpoint.TrimEnd('/');
        this.rootPath = "/" + rootPath.Trim('/');
        var auth = new StringBuilder();
        if (user is not null)
        {
            auth.Append("&user.name=").Append(Uri.EscapeDataString(user));
        }

        if (delegationToken is not null)
        {
            auth.Append("&delegation=").Append(Uri.EscapeDataString(delegationToken));
        }

        authQuery = auth.ToString();
        Identity = $"hdfs://{new Uri(this.endpoint).Authority}{(this.rootPath == "/" ? "" : this.rootPath)}/";
    }

    public string Identity { get; }

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        if (!ObjectKeys.IsSafeRelativeKey(key))
        {
            return null;
        }

        var status = await GetFileStatusAsync(key, cancellationToken);
        return status is { IsDirectory: false } file ? file.ToRemoteObject(key) : null;
    }

    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pager = new ListingPager(request);

        // Start at the deepest directory the prefix names in full, not at the dataset root.
        var lastSlash = request.Prefix.LastIndexOf('/');
        var startDirectory = lastSlash < 0 ? "" : request.Prefix[..(lastSlash + 1)];
        if (startDirectory.Length > 0 && !ObjectKeys.IsSafeRelativeKey(startDirectory.TrimEnd('/')))
        {
            return ListPage.Empty;
        }

        await WalkAsync(startDirectory, pager, cancellationToken);
        return pager.ToPage();
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadRange.ThrowIfOutside(obj, offset, destination.Length);
        if (destination.IsEmpty)
        {
            return;
        }

        if (!ObjectKeys.IsSafeRelativeKey(obj.Key))
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        var status = await GetFileStatusAsync(obj.Key, cancellationToken);
        if (status is not { IsDirectory: false } file)
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        if (file.ToRemoteObject(obj.Key).ETag != obj.ETag)
        {
            throw new RemoteObjectChangedException(obj.Key);
        }

        var query = string.Create(CultureInfo.InvariantCulture, $"OPEN&offset={offset}&length={destination.Length}");
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, Url(obj.Key, query)), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var failure = await ReadFailureAsync(response, "OPEN", obj.Key, cancellationToken);
            throw failure.IsFileNotFound ? new RemoteObjectNotFoundException(obj.Key) : failure.Exception;
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await StreamReading.FillAsync(body, destination, obj.Key, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task<bool> WalkAsync(string directoryKey, ListingPager pager, CancellationToken cancellationToken)
    {
        var found = false;
        foreach (var entry in await ListDirectoryAsync(directoryKey, cancellationToken))
        {
            if (pager.IsFull)
            {
                break;
            }

            if (entry.IsDirectory)
            {
                var childKey = directoryKey + entry.Name + "/";
                if (pager.CanSkipDirectory(childKey))
                {
                    continue;
                }

                if (pager.RollsUpWhole(childKey))
                {
                    if (await ContainsFileAsync(childKey, cancellationToken))
                    {
                        pager.AddCommonPrefix(childKey);
                        found = true;
                    }

                    continue;
                }

                found |= await WalkAsync(childKey, pager, cancellationToken);
            }
            else
            {
                pager.Add(entry.ToRemoteObject(directoryKey + entry.Name));
                found = true;
            }
        }

        return found;
    }

    private async Task<bool> ContainsFileAsync(string directoryKey, CancellationToken cancellationToken)
    {
        foreach (var entry in await ListDirectoryAsync(directoryKey, cancellationToken))
        {
            if (!entry.IsDirectory || await ContainsFileAsync(directoryKey + entry.Name + "/", cancellationToken))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The entries of one directory in S3 key order (directories as "name/"); a missing directory is empty.</summary>
    private async Task<List<HdfsFileStatus>> ListDirectoryAsync(string directoryKey, CancellationToken cancellationToken)
    {
        var path = directoryKey.TrimEnd('/');
        var entries = new List<HdfsFileStatus>();
        string? startAfter = null;
        while (true)
        {
            var batch = !batchListingUnsupported;
            var query = batch ? "LISTSTATUS_BATCH" + (startAfter is null ? "" : "&startAfter=" + Uri.EscapeDataString(startAfter)) : "LISTSTATUS";
            using var response = await client.GetAsync(Url(path, query), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var failure = await ReadFailureAsync(response, batch ? "LISTSTATUS_BATCH" : "LISTSTATUS", path, cancellationToken);
                if (failure.IsFileNotFound)
                {
                    return entries;
                }

                if (batch && failure.IsUnsupportedOperation)
                {
                    // Older namenodes and HttpFS: fall back to one-shot listings from now on.
                    batchListingUnsupported = true;
                    continue;
                }

                throw failure.Exception;
            }

            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            JsonElement statuses;
            var remaining = 0L;
            if (batch)
            {
                var listing = json.RootElement.GetProperty("DirectoryListing");
                statuses = listing.GetProperty("partialListing").GetProperty("FileStatuses").GetProperty("FileStatus");
                remaining = listing.TryGetProperty("remainingEntries", out var r) ? r.GetInt64() : 0;
            }
            else
            {
                statuses = json.RootElement.GetProperty("FileStatuses").GetProperty("FileStatus");
            }

            foreach (var item in statuses.EnumerateArray())
            {
                var status = HdfsFileStatus.Parse(item);
                if (status.Name.Length > 0 && status.Name != "." && status.Name != ".." && !status.Name.Contains('/', StringComparison.Ordinal))
                {
                    entries.Add(status);
                }
            }

            if (!batch || remaining <= 0 || entries.Count == 0)
            {
                break;
            }

            startAfter = entries[^1].Name;
        }

        entries.Sort(static (a, b) => Utf8KeyComparer.Compare(a.SortName, b.SortName));
        return entries;
    }

    private async Task<HdfsFileStatus?> GetFileStatusAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(Url(key, "GETFILESTATUS"), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var failure = await ReadFailureAsync(response, "GETFILESTATUS", key, cancellationToken);
            return failure.IsFileNotFound ? null : throw failure.Exception;
        }

        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return HdfsFileStatus.Parse(json.RootElement.GetProperty("FileStatus"));
    }

    private Uri Url(string key, string operation)
    {
        var path = key.Length == 0 ? rootPath : (rootPath == "/" ? "/" : rootPath + "/") + key;
        return new Uri($"{endpoint}/webhdfs/v1{ObjectKeys.EscapePath(path)}?op={operation}{authQuery}");
    }

    /// <summary>
    /// Reads a WebHDFS error: a RemoteException JSON body naming the Java exception. Standby namenodes, retriable
    /// and safe-mode errors become 503 (retried by the pipeline); permission errors stay 403 (not retried).
    /// </summary>
    private static async Task<WebHdfsFailure> ReadFailureAsync(HttpResponseMessage response, string operation, string path, CancellationToken cancellationToken)
    {
        string? exception = null;
        string? message = null;
        try
        {
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            if (json.RootElement.TryGetProperty("RemoteException", out var remote))
            {
                exception = remote.TryGetProperty("exception", out var e) ? e.GetString() : null;
                message = remote.TryGetProperty("message", out var m) ? m.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML error page): the status code is all there is.
        }

        var status = exception switch
        {
            "StandbyException" or "RetriableException" or "SafeModeException" or "ObserverRetryOnActiveException" => HttpStatusCode.ServiceUnavailable,
            _ => response.StatusCode,
        };
        var text = $"WebHDFS {operation} '{path}' failed: {(int)response.StatusCode} {exception ?? response.ReasonPhrase}{(message is null ? "" : ": " + message)}";
        return new WebHdfsFailure(
            new HttpRequestException(text, null, status),
            IsFileNotFound: exception == "FileNotFoundException" || (exception is null && response.StatusCode == HttpStatusCode.NotFound),
            IsUnsupportedOperation: exception is "UnsupportedOperationException" or "IllegalArgumentException" && response.StatusCode == HttpStatusCode.BadRequest);
    }

    private sealed record WebHdfsFailure(HttpRequestException Exception, bool IsFileNotFound, bool IsUnsupportedOperation);

    /// <summary>One FileStatus object of the WebHDFS JSON.</summary>
    private sealed record HdfsFileStatus(string Name, bool IsDirectory, long Length, long ModificationTimeMs, long FileId)
    {
        public string SortName => IsDirectory ? Name + "/" : Name;

        public static HdfsFileStatus Parse(JsonElement status) => new(
            status.TryGetProperty("pathSuffix", out var name) ? name.GetString() ?? "" : "",
            status.GetProperty("type").GetString() == "DIRECTORY",
            status.TryGetProperty("length", out var length) ? length.GetInt64() : 0,
            status.TryGetProperty("modificationTime", out var modified) ? modified.GetInt64() : 0,
            status.TryGetProperty("fileId", out var id) ? id.GetInt64() : 0);

        /// <summary>The ETag: a hash of (length, modification time, fileId); a rewritten file gets a new fileId.</summary>
        public RemoteObject ToRemoteObject(string key)
        {
            Span<byte> identity = stackalloc byte[24];
            BinaryPrimitives.WriteInt64LittleEndian(identity, Length);
            BinaryPrimitives.WriteInt64LittleEndian(identity[8..], ModificationTimeMs);
            BinaryPrimitives.WriteInt64LittleEndian(identity[16..], FileId);
            var etag = string.Create(CultureInfo.InvariantCulture, $"\"{XxHash64.HashToUInt64(identity):x16}\"");
            return new RemoteObject(key, Length, etag, DateTimeOffset.FromUnixTimeMilliseconds(ModificationTimeMs));
        }
    }
}
