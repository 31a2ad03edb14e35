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

/// <summary>
/// Bench stand-in for the block-cached ObjectReader: 8 MiB blocks in memory (LRU, 24 blocks), one fetch per block
/// however many readers want it, and the next two blocks fetched ahead when a read reaches a block's second half.
/// </summary>
internal sealed class BlockReader : IObjectReader
{
    private const int BlockSize = 8 * 1024 * 1024;
    private const int MaxBlocks = 24;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Key, long Block), Task<byte[]>> _blocks = [];
    private readonly LinkedList<(string Key, long Block)> _lru = new();

    public async Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        var read = await ReadAsync(dataset, obj, offset, buffer, cancellationToken);
        await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
    }

    public async ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var length = (int)Math.Max(0, Math.Min(destination.Length, obj.Size - offset));
        var done = 0;
        while (done < length)
        {
            var position = offset + done;
            var block = position / BlockSize;
            var within = (int)(position % BlockSize);
            var bytes = await GetBlock(dataset, obj, block);
            if (within >= BlockSize / 2)
            {
                _ = GetBlock(dataset, obj, block + 1);
                _ = GetBlock(dataset, obj, block + 2);
            }
            var take = Math.Min(length - done, bytes.Length - within);
            bytes.AsMemory(within, take).CopyTo(destination[done..]);
            done += take;
        }
        return length;
    }

    private Task<byte[]> GetBlock(Dataset dataset, RemoteObject obj, long block)
    {
        var id = (obj.Key, block);
        lock (_lock)
        {
            if (block * BlockSize >= obj.Size)
            {
                return Task.FromResult(Array.Empty<byte>());
            }
            if (_blocks.TryGetValue(id, out var existing) && !existing.IsFaulted)
            {
                _lru.Remove(id);
                _lru.AddFirst(id);
                return existing;
            }
            var fetch = Task.Run(async () =>
            {
                var bytes = new byte[Math.Min(BlockSize, obj.Size - block * BlockSize)];
                await dataset.Source.ReadAsync(obj, block * BlockSize, bytes, CancellationToken.None);
                return bytes;
            });
            _blocks[id] = fetch;
            _lru.AddFirst(id);
            while (_lru.Count > MaxBlocks)
            {
                _blocks.Remove(_lru.Last!.Value);
                _lru.RemoveLast();
            }
            return fetch;
        }
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
