using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace PrefetchBench;

/// <summary>
/// The read path as IObjectReader defines it, for the bench only, until the cache's ObjectReader is in main (then
/// the bench uses that). WarmAsync fetches up to 4 blocks of one object at once, as the cache's reader does.
/// </summary>
internal sealed class BenchObjectReader(IBlockCache cache) : IObjectReader
{
    private const int WarmParallelism = 4;

    public async Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[cache.BlockSize];
        for (var position = offset; position < offset + length;)
        {
            var read = await ReadAsync(dataset, obj, position, buffer.AsMemory(0, (int)Math.Min(buffer.Length, offset + length - position)), cancellationToken);
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            position += read;
        }
    }

    public async ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < destination.Length && offset + total < obj.Size)
        {
            var position = offset + total;
            var index = position / cache.BlockSize;
            using var lease = await GetBlockAsync(dataset, obj, index, BlockPriority.OnDemand, cancellationToken);
            var inBlock = (int)(position - (index * cache.BlockSize));
            var count = Math.Min(lease.Memory.Length - inBlock, destination.Length - total);
            lease.Memory.Slice(inBlock, count).CopyTo(destination[total..]);
            total += count;
        }

        return total;
    }

    public async Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken)
    {
        long fetched = 0;
        var blocks = (obj.Size + cache.BlockSize - 1) / cache.BlockSize;
        await Parallel.ForAsync(0L, blocks, new ParallelOptions { MaxDegreeOfParallelism = WarmParallelism, CancellationToken = cancellationToken }, async (index, ct) =>
        {
            using var lease = await GetBlockAsync(dataset, obj, index, BlockPriority.Prefetch, ct);
            if (!lease.FromCache)
            {
                Interlocked.Add(ref fetched, lease.Memory.Length);
            }
        });
        return fetched;
    }

    private ValueTask<BlockLease> GetBlockAsync(Dataset dataset, RemoteObject obj, long index, BlockPriority priority, CancellationToken cancellationToken)
    {
        var start = index * cache.BlockSize;
        var length = (int)Math.Min(cache.BlockSize, obj.Size - start);
        return cache.GetAsync(
            new BlockKey(dataset.Source.Identity, obj.Key, obj.ETag, index),
            length,
            (memory, ct) => dataset.Source.ReadAsync(obj, start, memory, ct),
            priority,
            cancellationToken);
    }
}

/// <summary>Counts reads that reach the remote (the bench checks none happen when warmed data is read back).</summary>
internal sealed class CountingSource(IObjectSource inner) : IObjectSource
{
    private long _reads;

    public long Reads => Interlocked.Read(ref _reads);
    public string Identity => inner.Identity;
    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);
    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

    public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.ReadAsync(obj, offset, destination, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
