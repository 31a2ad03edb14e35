using System.Buffers;
using System.Globalization;
using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Credentials;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// An S3-compatible bucket as the shared tier (the design of mountpoint-s3's shared cache on S3 Express One Zone): one
/// object per block under the prefix, one GET per hit, one PUT per fill. The client comes from the sidecar's
/// <see cref="S3ClientPool"/>, built like a dataset's.
/// <para>
/// Fill leases are conditional PUTs (<c>If-None-Match: *</c>, S3 and S3 Express since 2024): the first PUT of a lease
/// object wins, the others get 412. S3 objects have no per-object expiry, so a lease's name carries the lease window it
/// belongs to (<c>lease/{hash}/{window}</c>): a lease ends when its window does, with nothing to delete (a lifecycle
/// rule on <c>{prefix}lease/</c> cleans old ones). An engine that answers 501 to the condition has no leases (every pod
/// fetches for itself); an engine that ignores the header lets every acquirer win, which costs duplicate fetches, never
/// wrong bytes.
/// </para>
/// </summary>
internal sealed class S3TierStore(AmazonS3Client client, string bucket) : ISharedTierStore
{
    public string Engine => "s3";

    /// <summary>The SDK connects per request; there is no connection to wait for.</summary>
    public bool IsConnected => true;

    public static S3TierStore Create(string? endpoint, string region, string bucket, string? accessKeyId, string? secretAccessKey)
    {
        var credentials = accessKeyId is not null && secretAccessKey is not null
            ? new S3Credentials(accessKeyId, secretAccessKey, null, false)
            : S3Credentials.DefaultChain with { WebIdentity = WebIdentityRole.FromAwsEnvironment(Environment.GetEnvironmentVariables(), region) };
        var client = S3ClientPool.Shared.Get(new S3ClientSettings(endpoint, region, PathStyle: endpoint is not null, credentials));
        return new S3TierStore(client, bucket);
    }

    public async Task<IMemoryOwner<byte>?> GetAsync(string key, int maxLength, CancellationToken cancellationToken)
    {
        using var response = await TryGetObjectAsync(key, cancellationToken).ConfigureAwait(false);
        return response is null ? null : await ReadWholeAsync(response, maxLength, cancellationToken).ConfigureAwait(false);
    }

    public async Task<StoredValue> ReadIntoAsync(string key, Memory<byte> header, Memory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        using var response = await TryGetObjectAsync(key, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            return StoredValue.Absent;
        }

        if (response.ContentLength != header.Length + payload.Length)
        {
            return StoredValue.WholeOrAbsent(await ReadWholeAsync(response, maxLength, cancellationToken).ConfigureAwait(false));
        }

        // Straight into place. A body that ends early is handed back as an empty value, which the header check refuses.
        return await FillAsync(response.ResponseStream, header, cancellationToken).ConfigureAwait(false) == header.Length
            && await FillAsync(response.ResponseStream, payload, cancellationToken).ConfigureAwait(false) == payload.Length
            ? StoredValue.InPlace
            : StoredValue.Whole(new PooledValue(0));
    }

    private async Task<GetObjectResponse?> TryGetObjectAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The whole body in a pooled buffer; null when it is longer than <paramref name="maxLength"/> (not read).</summary>
    private static async Task<IMemoryOwner<byte>?> ReadWholeAsync(GetObjectResponse response, int maxLength, CancellationToken cancellationToken)
    {
        if (response.ContentLength > maxLength || response.ContentLength < 0)
        {
            return null;
        }

        var value = new PooledValue((int)response.ContentLength);
        try
        {
            // A short body stays short: the header check refuses it.
            value.Length = await FillAsync(response.ResponseStream, value.Array.AsMemory(0, (int)response.ContentLength), cancellationToken).ConfigureAwait(false);
            return value;
        }
        catch
        {
            value.Dispose();
            throw;
        }
    }

    /// <summary>Reads until <paramref name="into"/> is full or the body ends; the bytes read.</summary>
    private static async Task<int> FillAsync(Stream body, Memory<byte> into, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < into.Length)
        {
            var n = await body.ReadAsync(into[read..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read;
    }

    public async Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        using var body = AsStream(value);
        await client.PutObjectAsync(Put(key, body), cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool?> TryCreateAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var window = DateTimeOffset.UtcNow.Ticks / Math.Max(1, lifetime.Ticks);
        using var body = AsStream(value);
        var request = Put(key + "/" + window.ToString(CultureInfo.InvariantCulture), body);
        request.IfNoneMatch = "*";
        try
        {
            await client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            // 412: a lease exists, maybe our own (a create that timed out but landed); 409 ConditionalRequestConflict:
            // another pod's PUT is in flight.
            if (e.StatusCode != HttpStatusCode.PreconditionFailed)
            {
                return false;
            }

            using var current = await GetAsync(request.Key, value.Length, cancellationToken).ConfigureAwait(false);
            return current is not null && current.Memory.Span.SequenceEqual(value.Span);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotImplemented)
        {
            return null;
        }
    }

    /// <summary>
    /// A lease on a bucket is an object named by its time window (see <see cref="TryCreateAsync"/>), which the holder
    /// would have to remember to delete it; it simply ends with its window, so a waiter waits at most one lease time.
    /// </summary>
    public Task DeleteIfValueAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A window cannot be stretched: a lease on a bucket ends with its window, renewed or not.</summary>
    public Task<bool> TryExtendAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken) => Task.FromResult(false);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private PutObjectRequest Put(string key, Stream body) => new()
    {
        BucketName = bucket,
        Key = key,
        InputStream = body,
        AutoCloseStream = false,
        ContentType = "application/octet-stream",
        // The value carries its own CRC32C; the SDK's body digest would hash every block a second time.
        DisableDefaultChecksumValidation = true,
        // A plain body with a Content-Length: S3-compatible stores that mangle aws-chunked bodies accept it.
        UseChunkEncoding = false,
    };

    private static MemoryStream AsStream(ReadOnlyMemory<byte> value) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(value, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(value.ToArray(), writable: false);
}
