using System.Collections.Concurrent;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The metadata cache in front of a source: HEAD results and LIST pages are kept for the metadata TTL (forever
/// for an immutable dataset), a missing object is remembered briefly, and concurrent identical requests share one
/// remote call. What a LIST page says is not asked again: each listed object seeds its HEAD entry, and a listed
/// object whose "name/" the page proves empty is remembered as having no children (what a FUSE lookup asks), so
/// reading a listed or prefetched dataset makes no metadata request within the TTL. A read pinned to an ETag that
/// succeeds confirms that ETag. While the remote is unavailable, expired entries are still answered
/// (stale-if-error), so cached objects stay readable. Bytes (<see cref="ReadAsync"/>) go straight through: the block
/// cache handles those.
/// </summary>
internal sealed class MetadataCachingObjectSource : IObjectSourceWrapper
{
    /// <summary>How long "no such object" is believed: short, so an object uploaded elsewhere appears soon.</summary>
    public static readonly TimeSpan MaxNegativeTtl = TimeSpan.FromSeconds(5);

    // Bounds on what the cache holds; past them, expired entries are swept and then the cache starts over.
    private const int MaxHeadEntries = 100_000;
    private const int MaxListPages = 512;

    private readonly IObjectSource _inner;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _negativeTtl;
    private readonly bool _immutable;
    private readonly ConcurrentDictionary<string, Timed<RemoteObject?>> _heads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ListRequest, Timed<ListPage>> _lists = new();
    private readonly ConcurrentDictionary<string, Timed<bool>> _emptyPrefixes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<RemoteObject?>> _headFlights = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ListRequest, TaskCompletionSource<ListPage>> _listFlights = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationToken _lifetimeToken;
    private long _generation;
    private int _disposed;

    /// <param name="inner">The source itself (with its resilience pipeline).</param>
    /// <param name="ttl">How long metadata is trusted; zero disables caching (single-flight still applies).</param>
    /// <param name="immutable">The dataset never changes: metadata, once read, is never revalidated.</param>
    public MetadataCachingObjectSource(IObjectSource inner, TimeSpan ttl, bool immutable, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, TimeSpan.Zero);
        _inner = inner;
        _ttl = ttl;
        _negativeTtl = ttl < MaxNegativeTtl ? ttl : MaxNegativeTtl;
        _immutable = immutable;
        _time = timeProvider;
        _lifetimeToken = _lifetime.Token;
    }

    /// <summary>Wraps a dataset's source with the metadata cache its config asks for.</summary>
    public static MetadataCachingObjectSource For(IObjectSource inner, DatasetConfig dataset, CacheConfig cache, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.MetadataTtlSeconds < 0)
        {
            throw new ArgumentException($"cache.metadataTtlSeconds is {cache.MetadataTtlSeconds}; expected 0 or more (0 = no metadata caching)", nameof(cache));
        }

        return new MetadataCachingObjectSource(inner, TimeSpan.FromSeconds(cache.MetadataTtlSeconds), dataset.Immutable, timeProvider);
    }

    public string Identity => _inner.Identity;

    /// <summary>The wrapped source.</summary>
    public IObjectSource Inner => _inner;

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_heads.TryGetValue(key, out var cached) && !IsExpired(cached))
        {
            return cached.Value;
        }

        var flight = new TaskCompletionSource<RemoteObject?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _headFlights.GetOrAdd(key, flight);
        if (ReferenceEquals(shared, flight))
        {
            _ = RunHeadAsync(key, flight);
        }

        return await shared.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_lists.TryGetValue(request, out var cached) && !IsExpired(cached))
        {
            return cached.Value;
        }

        if (_emptyPrefixes.TryGetValue(request.Prefix, out var empty) && !IsExpired(empty))
        {
            return ListPage.Empty;
        }

        var flight = new TaskCompletionSource<ListPage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _listFlights.GetOrAdd(request, flight);
        if (ReferenceEquals(shared, flight))
        {
            _ = RunListAsync(request, flight);
        }

        return await shared.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var generation = Volatile.Read(ref _generation);
        try
        {
            await _inner.ReadAsync(obj, offset, destination, cancellationToken);
        }
        catch (Exception e) when (e is RemoteObjectChangedException or RemoteObjectNotFoundException)
        {
            // The cached metadata is stale: the next HEAD must ask the remote.
            Invalidate(obj.Key);
            throw;
        }

        Confirm(obj, generation);
    }

    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var generation = Volatile.Read(ref _generation);
        try
        {
            await _inner.ReadIntoAsync(obj, sink, cancellationToken);
        }
        catch (Exception e) when (e is RemoteObjectChangedException or RemoteObjectNotFoundException)
        {
            Invalidate(obj.Key);
            throw;
        }

        Confirm(obj, generation);
    }

    /// <summary>
    /// Forgets what is cached about <paramref name="key"/> (after a write or delete through the sidecar): its HEAD
    /// result and every listing page whose prefix covers it. Results of requests already in flight are not kept.
    /// </summary>
    public void Invalidate(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Interlocked.Increment(ref _generation);
        _heads.TryRemove(key, out _);
        for (var slash = key.IndexOf('/'); slash >= 0; slash = key.IndexOf('/', slash + 1))
        {
            _emptyPrefixes.TryRemove(key[..(slash + 1)], out _);
        }

        foreach (var request in _lists.Keys)
        {
            if (key.StartsWith(request.Prefix, StringComparison.Ordinal))
            {
                _lists.TryRemove(request, out _);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync();
        await _inner.DisposeAsync();
        _lifetime.Dispose();
    }

    // The remote call runs under the source's lifetime, not a caller's token: one caller giving up must not fail
    // the others that share the call.
    private async Task RunHeadAsync(string key, TaskCompletionSource<RemoteObject?> flight)
    {
        var generation = Volatile.Read(ref _generation);
        try
        {
            var result = await _inner.HeadAsync(key, _lifetimeToken);
            if (_ttl > TimeSpan.Zero && generation == Volatile.Read(ref _generation))
            {
                Bound(_heads, MaxHeadEntries);
                _heads[key] = new Timed<RemoteObject?>(result, ExpiryFor(result is null));
            }

            _headFlights.TryRemove(key, out _);
            flight.TrySetResult(result);
        }
        catch (SourceUnavailableException) when (_heads.TryGetValue(key, out var stale) && stale.Value is not null)
        {
            // The remote is down but this object was seen before: answer with what we knew (stale-if-error), so
            // its cached blocks keep being served instead of the whole object failing on a metadata call.
            _headFlights.TryRemove(key, out _);
            flight.TrySetResult(stale.Value);
        }
        catch (Exception e)
        {
            _headFlights.TryRemove(key, out _);
            flight.TrySetException(e);
        }
    }

    private async Task RunListAsync(ListRequest request, TaskCompletionSource<ListPage> flight)
    {
        var generation = Volatile.Read(ref _generation);
        try
        {
            var page = await _inner.ListAsync(request, _lifetimeToken);
            if (_ttl > TimeSpan.Zero && generation == Volatile.Read(ref _generation))
            {
                Bound(_lists, MaxListPages);
                var expiresAt = ExpiryFor(negative: false);
                _lists[request] = new Timed<ListPage>(page, expiresAt);
                Seed(request, page, expiresAt);
            }

            _listFlights.TryRemove(request, out _);
            flight.TrySetResult(page);
        }
        catch (SourceUnavailableException) when (_lists.TryGetValue(request, out var stale))
        {
            _listFlights.TryRemove(request, out _);
            flight.TrySetResult(stale.Value);
        }
        catch (Exception e)
        {
            _listFlights.TryRemove(request, out _);
            flight.TrySetException(e);
        }
    }

    /// <summary>
    /// Seeds what a listing page proves, for as long as the page itself is trusted: each object's HEAD answer (a
    /// HEAD already cached under the same ETag is kept, since it also knows the content type, and trusted anew) and, for each object
    /// "k", that "k/" is empty when the page covers where keys below "k/" would be and holds none.
    /// </summary>
    private void Seed(ListRequest request, ListPage page, DateTimeOffset expiresAt)
    {
        var prefixes = request.Delimiter == "/" ? new HashSet<string>(page.CommonPrefixes, StringComparer.Ordinal) : null;
        Bound(_heads, MaxHeadEntries);
        Bound(_emptyPrefixes, MaxHeadEntries);
        var objects = page.Objects;
        for (var i = 0; i < objects.Count; i++)
        {
            var obj = objects[i];
            if (obj.ETag.Length == 0 || !obj.Key.StartsWith(request.Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var seeded = _heads.TryGetValue(obj.Key, out var known) && known.Value is { } head && head.ETag == obj.ETag ? head : obj;
            _heads[obj.Key] = new Timed<RemoteObject?>(seeded, expiresAt);

            var children = obj.Key + "/";
            if (ProvesEmpty(request, page, prefixes, i, children))
            {
                _emptyPrefixes[children] = new Timed<bool>(true, expiresAt);
            }
        }
    }

    /// <summary>
    /// True when the page would hold a key below <paramref name="children"/> if there were one. With delimiter "/"
    /// such keys roll up into the common prefix "k/"; in a flat listing they follow "k" in key order. Either way the
    /// page must reach past them: it is the last page, or its last entry sorts after every key below "k/" (an entry
    /// after "k/" that does not start with it does).
    /// </summary>
    private static bool ProvesEmpty(ListRequest request, ListPage page, HashSet<string>? commonPrefixes, int index, string children)
    {
        if (request.Delimiter is not null && commonPrefixes is null)
        {
            return false;
        }

        if (commonPrefixes is not null ? commonPrefixes.Contains(children) : HasKeyBelow(page.Objects, index, children))
        {
            return false;
        }

        return page.NextStartAfter is not { } last
            || (Utf8KeyComparer.Compare(last, children) > 0 && !last.StartsWith(children, StringComparison.Ordinal));
    }

    // Keys below "k/" sort after "k" but not necessarily right after it ("k.txt" sorts between "k" and "k/a").
    private static bool HasKeyBelow(IReadOnlyList<RemoteObject> objects, int index, string children)
    {
        for (var j = index + 1; j < objects.Count; j++)
        {
            var key = objects[j].Key;
            if (key.StartsWith(children, StringComparison.Ordinal))
            {
                return true;
            }

            if (Utf8KeyComparer.Compare(key, children) > 0)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>A remote read pinned to the object's ETag succeeded: the remote still has that version.</summary>
    private void Confirm(RemoteObject obj, long generation)
    {
        if (_ttl <= TimeSpan.Zero || obj.ETag.Length == 0 || generation != Volatile.Read(ref _generation))
        {
            return;
        }

        if (_heads.TryGetValue(obj.Key, out var known) && known.Value is { } cached && cached.ETag == obj.ETag)
        {
            _heads[obj.Key] = known with { ExpiresAt = ExpiryFor(negative: false) };
        }
    }

    private DateTimeOffset ExpiryFor(bool negative)
    {
        if (_immutable && !negative)
        {
            return DateTimeOffset.MaxValue;
        }

        return _time.GetUtcNow() + (negative ? _negativeTtl : _ttl);
    }

    private bool IsExpired<T>(Timed<T> entry) => entry.ExpiresAt != DateTimeOffset.MaxValue && _time.GetUtcNow() >= entry.ExpiresAt;

    private void Bound<TKey, TValue>(ConcurrentDictionary<TKey, Timed<TValue>> entries, int max)
        where TKey : notnull
    {
        if (entries.Count < max)
        {
            return;
        }

        foreach (var (key, entry) in entries)
        {
            if (IsExpired(entry))
            {
                entries.TryRemove(key, out _);
            }
        }

        if (entries.Count >= max)
        {
            // Everything is still fresh: start over rather than track a second LRU for metadata.
            entries.Clear();
        }
    }

    private readonly record struct Timed<T>(T Value, DateTimeOffset ExpiresAt);
}
