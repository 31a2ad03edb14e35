using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Testing;

// Prefetch test helpers. MemoryBlockCache is kept where a test needs exact quota arithmetic (DiskBlockCache counts
// file headers too); the tests that claim "cached" use the real DiskBlockCache. Sources are the real
// LocalObjectSource / S3ObjectSource.

/// <summary>An in-memory IBlockCache: exact used-bytes accounting against a quota, no eviction (none is needed here).</summary>
internal sealed class MemoryBlockCache(int blockSize, long quotaBytes) : IBlockCache
{
    private readonly ConcurrentDictionary<BlockKey, byte[]> _blocks = new();
    private long _used, _hits, _misses;

    public int BlockSize => blockSize;

    public async ValueTask<BlockLease> GetAsync(BlockKey key, int length, Func<Memory<byte>, CancellationToken, ValueTask> fetch, BlockPriority priority, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        if (_blocks.TryGetValue(key, out var stored))
        {
            Interlocked.Increment(ref _hits);
            stored.CopyTo(buffer, 0);
            return new BlockLease(buffer, length, fromCache: true);
        }

        Interlocked.Increment(ref _misses);
        await fetch(buffer.AsMemory(0, length), cancellationToken);
        if (_blocks.TryAdd(key, buffer.AsSpan(0, length).ToArray()))
        {
            Interlocked.Add(ref _used, length);
        }

        return new BlockLease(buffer, length, fromCache: false);
    }

    public BlockLease? TryReadCached(BlockKey key, int blockLength, int offset, int count)
    {
        if (!_blocks.TryGetValue(key, out var stored))
        {
            return null;
        }

        Interlocked.Increment(ref _hits);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(1, count));
        stored.AsSpan(offset, count).CopyTo(buffer);
        return new BlockLease(buffer, count, fromCache: true);
    }

    public bool Contains(BlockKey key) => _blocks.ContainsKey(key);

    public void Invalidate(string sourceIdentity, string objectKey)
    {
        foreach (var key in _blocks.Keys)
        {
            if (key.SourceIdentity == sourceIdentity && key.ObjectKey == objectKey && _blocks.TryRemove(key, out var removed))
            {
                Interlocked.Add(ref _used, -removed.Length);
            }
        }
    }

    public CacheStatistics GetStatistics() =>
        new(_blocks.Count, Interlocked.Read(ref _used), quotaBytes, Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), 0, 0, 0, true);
}

/// <summary>The read path as IObjectReader defines it, minus read-ahead: every block through the cache.</summary>
internal sealed class BlockCacheObjectReader(IBlockCache cache) : IObjectReader
{
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
        for (long i = 0; i < blocks; i++)
        {
            using var lease = await GetBlockAsync(dataset, obj, i, BlockPriority.Prefetch, cancellationToken);
            fetched += lease.FromCache ? 0 : lease.Memory.Length;
        }

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

/// <summary>Wraps every source the real SourceFactory builds in a <see cref="CountingObjectSource"/> the test can hold.</summary>
internal sealed class CountingDecorator : ISourceFactory
{
    private readonly SourceFactory _inner = new(Environment.GetEnvironmentVariable);

    public List<CountingObjectSource> Created { get; } = [];

    /// <summary>When set, sources built from now on hold their reads until it completes.</summary>
    public TaskCompletionSource? ReadGateForNewSources { get; set; }

    public IObjectSource Create(Contracts.DatasetConfig dataset)
    {
        var counting = new CountingObjectSource(_inner.Create(dataset)) { ReadGate = ReadGateForNewSources };
        lock (Created)
        {
            Created.Add(counting);
        }

        return counting;
    }
}

/// <summary>Builds datasets in a temporary directory; deleted on dispose.</summary>
internal sealed class TempDataset : IDisposable
{
    public TempDataset()
    {
        Root = Path.Combine(Path.GetTempPath(), "fluid-prefetch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public byte[] Write(string key, int size, int seed = 0)
    {
        var bytes = new byte[size];
        new Random(HashCode.Combine(key, seed)).NextBytes(bytes);
        Write(key, bytes);
        return bytes;
    }

    public void Write(string key, byte[] bytes)
    {
        var path = Path.Combine(Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Prefetch entries from their text form; a test's own typo fails the test, not the product.</summary>
internal static class PrefetchEntries
{
    public static IReadOnlyList<PrefetchEntry> Parse(params string[] texts)
    {
        Assert.True(PrefetchEntry.TryParseAll(texts, out var entries, out var error), error);
        return entries;
    }
}
