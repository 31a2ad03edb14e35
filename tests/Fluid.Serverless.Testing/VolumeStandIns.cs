using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Testing;

// Small stand-ins for the volume tests, where the real part would hide what a test checks: an in-memory source with
// S3 listing semantics and a pass-through reader (no block cache).

/// <summary>A source over an in-memory key set (contents from bytes or from local files), with S3 listing semantics.</summary>
internal sealed class StandInSource : IObjectSource
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Func<byte[]>> _contents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RemoteObject> _objects = new(StringComparer.Ordinal);
    private string[] _sortedKeys = [];

    public string Identity { get; } = "standin://" + Guid.NewGuid().ToString("N");

    /// <summary>Every listing request seen, to check that directory listings page through the source.</summary>
    public List<ListRequest> ListRequests { get; } = [];

    public static StandInSource FromDirectory(string root)
    {
        var source = new StandInSource();
        foreach (var path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(root, path).Replace('\\', '/');
            source.Put(key, new FileInfo(path).Length, () => File.ReadAllBytes(path));
        }
        return source;
    }

    public void Put(string key, byte[] content) => Put(key, content.Length, () => content);

    public void Put(string key, long size, Func<byte[]> content)
    {
        lock (_lock)
        {
            _contents[key] = content;
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key + size + Guid.NewGuid())))[..32] + "\"";
            _objects[key] = new RemoteObject(key, size, etag, new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero));
            _sortedKeys = [.. _contents.Keys];
        }
    }

    public byte[] Content(string key) => _contents[key]();

    /// <summary>HEAD requests seen (a lookup or a version pin costs one at a real remote).</summary>
    public int HeadRequests => Volatile.Read(ref _headRequests);

    private int _headRequests;

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _headRequests);
        lock (_lock)
        {
            return ValueTask.FromResult(_objects.GetValueOrDefault(key));
        }
    }

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        string[] keys;
        lock (_lock)
        {
            ListRequests.Add(request);
            keys = _sortedKeys;
        }
        var objects = new List<RemoteObject>();
        var prefixes = new List<string>();
        var start = Array.BinarySearch(keys, request.StartAfter ?? request.Prefix, StringComparer.Ordinal);
        start = start < 0 ? ~start : start;
        string? last = null;
        for (var i = start; i < keys.Length; i++)
        {
            var key = keys[i];
            if (!key.StartsWith(request.Prefix, StringComparison.Ordinal))
            {
                if (string.CompareOrdinal(key, request.Prefix) > 0)
                {
                    break;
                }
                continue;
            }
            if (request.StartAfter is not null && string.CompareOrdinal(key, request.StartAfter) <= 0)
            {
                continue;
            }
            string? rolledUp = null;
            if (request.Delimiter is not null)
            {
                var at = key.IndexOf(request.Delimiter, request.Prefix.Length, StringComparison.Ordinal);
                if (at >= 0)
                {
                    rolledUp = key[..(at + request.Delimiter.Length)];
                }
            }
            if (rolledUp is not null && rolledUp == last)
            {
                continue;
            }
            if (request.StartAfter is not null && rolledUp is not null && string.CompareOrdinal(rolledUp, request.StartAfter) <= 0)
            {
                continue;
            }
            if (objects.Count + prefixes.Count == request.MaxKeys)
            {
                return ValueTask.FromResult(new ListPage(objects, prefixes, last));
            }
            if (rolledUp is not null)
            {
                prefixes.Add(rolledUp);
                last = rolledUp;
            }
            else
            {
                lock (_lock)
                {
                    objects.Add(_objects[key]);
                }
                last = key;
            }
        }
        return ValueTask.FromResult(new ListPage(objects, prefixes, null));
    }

    public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Func<byte[]>? content;
        lock (_lock)
        {
            content = _contents.GetValueOrDefault(obj.Key);
        }
        if (content is null)
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }
        content().AsMemory((int)offset, destination.Length).CopyTo(destination);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A reader without a cache: straight to the source. Keys in <see cref="FailingKeys"/> fail like a dead remote.</summary>
internal sealed class PassThroughObjectReader : IObjectReader
{
    public HashSet<string> FailingKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes handed out per key, to check resume does not read complete files again.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long> BytesRead { get; } = new(StringComparer.Ordinal);

    public async Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        var read = await ReadAsync(dataset, obj, offset, buffer, cancellationToken);
        await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
    }

    public async ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        lock (FailingKeys)
        {
            if (FailingKeys.Contains(obj.Key))
            {
                throw new SourceUnavailableException($"stand-in remote for '{obj.Key}' is down");
            }
        }
        var length = (int)Math.Max(0, Math.Min(destination.Length, obj.Size - offset));
        await dataset.Source.ReadAsync(obj, offset, destination[..length], cancellationToken);
        BytesRead.AddOrUpdate(obj.Key, length, (_, total) => total + length);
        return length;
    }

    public async Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken)
    {
        var buffer = new byte[obj.Size];
        return await ReadAsync(dataset, obj, 0, buffer, cancellationToken);
    }
}

/// <summary>Datasets over a stand-in source, with the config fields the volume tests vary.</summary>
internal static class StandInDatasets
{
    public static Dataset Create(IObjectSource source, string name = "demo", string? mountPath = null, bool immutable = false, IReadOnlyList<string>? prefetch = null, string sourceUri = "local:///stand-in") =>
        new(new DatasetConfig { Name = name, Source = sourceUri, MountPath = mountPath, Immutable = immutable, Prefetch = prefetch ?? [] }, source);
}
