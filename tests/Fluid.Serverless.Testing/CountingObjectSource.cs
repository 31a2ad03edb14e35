using System.Collections.Concurrent;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Testing;

/// <summary>
/// Counts what reaches the remote and injects faults. Either over objects it holds in memory (<see cref="Put"/>; the
/// cache and reader logic under test is real, the remotes are tested with the sources themselves), or wrapping a
/// real source (<c>new CountingObjectSource(inner)</c>): reads of <see cref="FailingKeys"/> throw, reads wait on
/// <see cref="ReadGate"/> when it is set.
/// </summary>
internal sealed class CountingObjectSource : IObjectSource
{
    private readonly ConcurrentDictionary<string, (RemoteObject Meta, byte[] Bytes)> _objects = new(StringComparer.Ordinal);
    private readonly IObjectSource? _inner;
    private int _reads;
    private int _heads;
    private int _lists;
    private int _concurrentReads;
    private int _maxConcurrentReads;

    /// <summary>An in-memory source: objects come from <see cref="Put"/>.</summary>
    public CountingObjectSource()
    {
    }

    /// <summary>Counts the calls that reach <paramref name="inner"/>.</summary>
    public CountingObjectSource(IObjectSource inner)
    {
        _inner = inner;
        Identity = inner.Identity;
    }

    public string Identity { get; init; } = "memory://test/";

    /// <summary>When set, every ReadAsync waits for it (lets a test line up concurrent readers).</summary>
    public TaskCompletionSource? ReadGate { get; set; }

    public ConcurrentQueue<string> ReadOrder { get; } = new();
    public ConcurrentQueue<string> ListPrefixes { get; } = new();
    public ConcurrentDictionary<string, int> ReadAttempts { get; } = new(StringComparer.Ordinal);

    /// <summary>Reads of these keys fail with <see cref="SourceUnavailableException"/>.</summary>
    public HashSet<string> FailingKeys { get; } = new(StringComparer.Ordinal);

    public bool Disposed { get; private set; }

    /// <summary>Simulated remote latency per ReadAsync.</summary>
    public TimeSpan ReadLatency { get; set; }

    public int Reads => Volatile.Read(ref _reads);
    public int Heads => Volatile.Read(ref _heads);
    public int Lists => Volatile.Read(ref _lists);
    public int MaxConcurrentReads => Volatile.Read(ref _maxConcurrentReads);
    public int InFlightReads => Volatile.Read(ref _concurrentReads);
    public ConcurrentBag<long> ReadOffsets { get; } = [];

    /// <summary>
    /// When true, <see cref="ReadIntoAsync"/> streams a whole range as ONE read (like a ranged GET), in 16 KiB pieces;
    /// when false it falls back to one <see cref="ReadAsync"/> per part, as a source without streaming does.
    /// </summary>
    public bool StreamsRanges { get; set; }

    /// <summary>
    /// A streamed body is copied a whole part at a time with no yield between pieces: the body of a remote that has
    /// built its answer before the first byte (moto), so its measured rate does not depend on how busy the test host is.
    /// </summary>
    public bool StreamsAtMemorySpeed { get; set; }

    /// <summary>A streamed read stops after this many bytes until <see cref="StreamPauseGate"/> completes.</summary>
    public long? StreamPauseAfterBytes { get; set; }

    public Task? StreamPauseGate { get; set; }

    /// <summary>The next streamed read fails with an <see cref="IOException"/> (a reset) after this many bytes; one-shot.</summary>
    public long? BreakStreamAfterBytes { get; set; }

    public RemoteObject Put(string key, byte[] bytes, string? etag = null)
    {
        var meta = new RemoteObject(key, bytes.Length, etag ?? $"\"{Convert.ToHexStringLower(MD5.HashData(bytes))}\"", DateTimeOffset.UnixEpoch);
        _objects[key] = (meta, bytes);
        return meta;
    }

    public void Delete(string key) => _objects.TryRemove(key, out _);

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _heads);
        if (_inner is not null)
        {
            return _inner.HeadAsync(key, cancellationToken);
        }

        return new(_objects.TryGetValue(key, out var o) ? o.Meta : null);
    }

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        ListPrefixes.Enqueue(request.Prefix);
        if (_inner is not null)
        {
            return _inner.ListAsync(request, cancellationToken);
        }

        // The same paging every non-S3 source uses: prefix, StartAfter, delimiter roll-up, MaxKeys.
        var pager = new ListingPager(request);
        foreach (var key in _objects.Keys.Where(k => k.StartsWith(request.Prefix, StringComparison.Ordinal)).Order(Utf8KeyComparer.Instance))
        {
            if (pager.IsFull)
            {
                break;
            }

            pager.Add(_objects[key].Meta);
        }

        return new(pager.ToPage());
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        EnterRead(obj.Key, offset);
        try
        {
            if (_inner is not null)
            {
                await HoldOrFailAsync(obj, cancellationToken);
                await _inner.ReadAsync(obj, offset, destination, cancellationToken);
                return;
            }

            var o = await ArriveAsync(obj, cancellationToken);
            o.Bytes.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
        }
        finally
        {
            Interlocked.Decrement(ref _concurrentReads);
        }
    }

    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        if (!StreamsRanges || _inner is not null)
        {
            await RangeSink.ReadPartByPartAsync(this, obj, sink, cancellationToken);
            return;
        }

        EnterRead(obj.Key, sink.Offset);
        try
        {
            var o = await ArriveAsync(obj, cancellationToken);
            var breakAfter = BreakStreamAfterBytes;
            BreakStreamAfterBytes = null;
            long delivered = 0;
            while (sink.Remaining > 0)
            {
                if (delivered == breakAfter)
                {
                    throw new IOException($"connection reset after {delivered} bytes (injected)");
                }

                if (delivered == StreamPauseAfterBytes && StreamPauseGate is { } pause)
                {
                    await pause.WaitAsync(cancellationToken);
                }

                var buffer = sink.GetBuffer();
                var piece = StreamsAtMemorySpeed ? buffer.Length : (int)Math.Min(buffer.Length, 16 * 1024);
                if (breakAfter is { } b && delivered < b)
                {
                    piece = (int)Math.Min(piece, b - delivered);
                }

                if (StreamPauseAfterBytes is { } p && delivered < p)
                {
                    piece = (int)Math.Min(piece, p - delivered);
                }

                o.Bytes.AsSpan((int)sink.Offset, piece).CopyTo(buffer.Span);
                sink.Advance(piece);
                delivered += piece;
                if (!StreamsAtMemorySpeed)
                {
                    await Task.Yield();
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _concurrentReads);
        }
    }

    /// <summary>Counts one remote read and the peak of reads in flight; the caller decrements in its finally.</summary>
    private void EnterRead(string key, long offset)
    {
        Interlocked.Increment(ref _reads);
        ReadOffsets.Add(offset);
        ReadAttempts.AddOrUpdate(key, 1, static (_, n) => n + 1);
        if (offset == 0)
        {
            ReadOrder.Enqueue(key);
        }

        var now = Interlocked.Increment(ref _concurrentReads);
        int max;
        while (now > (max = Volatile.Read(ref _maxConcurrentReads)) && Interlocked.CompareExchange(ref _maxConcurrentReads, now, max) != max)
        {
        }
    }

    /// <summary>Holds the read at the gate and for the latency, then finds the version asked for, as a remote would.</summary>
    private async ValueTask<(RemoteObject Meta, byte[] Bytes)> ArriveAsync(RemoteObject obj, CancellationToken cancellationToken)
    {
        await HoldOrFailAsync(obj, cancellationToken);
        if (ReadLatency > TimeSpan.Zero)
        {
            await Task.Delay(ReadLatency, cancellationToken);
        }

        if (!_objects.TryGetValue(obj.Key, out var o))
        {
            throw new RemoteObjectNotFoundException(obj.Key);
        }

        if (o.Meta.ETag != obj.ETag)
        {
            throw new RemoteObjectChangedException(obj.Key);
        }

        return o;
    }

    /// <summary>Holds the read at the gate, then fails it when its key is one of <see cref="FailingKeys"/>.</summary>
    private async ValueTask HoldOrFailAsync(RemoteObject obj, CancellationToken cancellationToken)
    {
        if (ReadGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (FailingKeys.Contains(obj.Key))
        {
            throw new SourceUnavailableException($"injected failure reading '{obj.Key}'");
        }
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return _inner?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
