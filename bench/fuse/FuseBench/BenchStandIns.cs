using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace FuseBench;

/// <summary>Bench stand-in: an S3 bucket as an <see cref="IObjectSource"/> (no retries, no metadata cache).</summary>
internal sealed class BenchS3Source(IAmazonS3 s3, string bucket) : IObjectSource
{
    public string Identity => $"s3://{bucket}/";

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var head = await s3.GetObjectMetadataAsync(bucket, key, cancellationToken);
            return new RemoteObject(key, head.ContentLength, head.ETag, head.LastModified ?? DateTime.UnixEpoch);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request
        {
            BucketName = bucket,
            Prefix = request.Prefix,
            Delimiter = request.Delimiter,
            StartAfter = request.StartAfter,
            MaxKeys = request.MaxKeys,
        }, cancellationToken);
        var objects = (response.S3Objects ?? []).Select(o => new RemoteObject(o.Key, o.Size ?? 0, o.ETag, o.LastModified ?? DateTime.UnixEpoch)).ToList();
        var prefixes = response.CommonPrefixes ?? [];
        string? next = null;
        if (response.IsTruncated == true)
        {
            var lastObject = objects.Count > 0 ? objects[^1].Key : null;
            var lastPrefix = prefixes.Count > 0 ? prefixes[^1] : null;
            next = string.CompareOrdinal(lastObject, lastPrefix) > 0 ? lastObject : lastPrefix;
        }
        return new ListPage(objects, prefixes, next);
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var response = await s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = bucket,
            Key = obj.Key,
            ByteRange = new ByteRange(offset, offset + destination.Length - 1),
        }, cancellationToken);
        await response.ResponseStream.ReadExactlyAsync(destination, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Bench stand-in for the block-cached ObjectReader: straight to the source.</summary>
internal sealed class DirectReader : IObjectReader
{
    public async Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        var read = await ReadAsync(dataset, obj, offset, buffer, cancellationToken);
        await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
    }

    public async ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var length = (int)Math.Max(0, Math.Min(destination.Length, obj.Size - offset));
        if (length > 0)
        {
            await dataset.Source.ReadAsync(obj, offset, destination[..length], cancellationToken);
        }
        return length;
    }

    public Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken) => Task.FromResult(0L);
}

internal sealed class FixedRegistry(Dataset dataset) : IDatasetRegistry
{
    public DatasetSnapshot Current { get; } = new(new Dictionary<string, Dataset>(StringComparer.Ordinal) { [dataset.Name] = dataset }, 1);

    public event Action<DatasetSnapshot>? Changed
    {
        add { }
        remove { }
    }
}
