using System.Collections.Concurrent;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// A small in-memory <see cref="IObjectSource"/> that only exists to count remote calls (and to hold them back
/// when a test needs concurrency to overlap). The cache and reader logic under test is real; integration with
/// real remotes (moto, s3rver, nginx, local directories) is tested with the sources themselves.
/// </summary>
internal sealed class CountingObjectSource : IObjectSource
{
    private readonly ConcurrentDictionary<string, (RemoteObject Meta, byte[] Bytes)> _objects = new(StringComparer.Ordinal);
    private int _reads;
    private int _heads;
    private int _lists;
    private int _concurrentReads;
    private int _maxConcurrentReads;

    public string Identity { get; init; } = "memory://test/";

    /// <summary>When set, every ReadAsync waits for it (lets a test line up concurrent readers).</summary>
    public Task? ReadGate { get; set; }

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
        return new(_objects.TryGetValue(key, out var o) ? o.Meta : null);
    }

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        var keys = _objects.Keys.Where(k => k.StartsWith(request.Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        return new(new ListPage([.. keys.Select(k => _objects[k].Meta)], [], null));
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        EnterRead(offset);
        try
        {
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
        if (!StreamsRanges)
        {
            await RangeSink.ReadPartByPartAsync(this, obj, sink, cancellationToken);
            return;
        }

        EnterRead(sink.Offset);
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
                var piece = (int)Math.Min(buffer.Length, 16 * 1024);
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
                await Task.Yield();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _concurrentReads);
        }
    }

    /// <summary>Counts one remote read and the peak of reads in flight; the caller decrements in its finally.</summary>
    private void EnterRead(long offset)
    {
        Interlocked.Increment(ref _reads);
        ReadOffsets.Add(offset);
        var now = Interlocked.Increment(ref _concurrentReads);
        int max;
        while (now > (max = Volatile.Read(ref _maxConcurrentReads)) && Interlocked.CompareExchange(ref _maxConcurrentReads, now, max) != max)
        {
        }
    }

    /// <summary>Holds the read at the gate and for the latency, then finds the version asked for, as a remote would.</summary>
    private async ValueTask<(RemoteObject Meta, byte[] Bytes)> ArriveAsync(RemoteObject obj, CancellationToken cancellationToken)
    {
        if (ReadGate is { } gate)
        {
            await gate.WaitAsync(cancellationToken);
        }

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

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
