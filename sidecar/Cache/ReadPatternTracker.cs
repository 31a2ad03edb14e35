using System.Collections.Concurrent;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Remembers how each object is being read and turns that into a read-ahead window (in blocks): a read that
/// continues where the previous one ended doubles the window (1, 2, 4 … up to the maximum), a read elsewhere
/// halves it. Past <paramref name="shortRunWindowBlocks"/> the window only grows with the sequential run: it is never
/// longer than twice what the run has already read (as with rclone's doubling chunks), so a reader who stops early has
/// cost at most twice what it read beyond that. Keyed per (dataset, object): S3 clients have no file handle to key on, and FUSE reads of
/// one file by one process are the common case.
/// </summary>
/// <param name="maxWindowBlocks">The longest window of a long run.</param>
/// <param name="shortRunWindowBlocks">The window any sequential reader may reach, however short its run (at most <paramref name="maxWindowBlocks"/>).</param>
internal sealed class ReadPatternTracker(int maxWindowBlocks, int blockSize, TimeProvider timeProvider, int shortRunWindowBlocks = int.MaxValue)
{
    /// <summary>Objects tracked at once; idle patterns are forgotten past this.</summary>
    private const int MaxTrackedObjects = 4096;

    private static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(string Dataset, string Key), Pattern> _patterns = new();
    private int _approximateCount;

    /// <summary>
    /// Records a read of [offset, offset+length) and returns how many blocks past its end to read ahead (0 = none).
    /// A sequential read's window is at least <paramref name="atLeastBlocks"/>, within the same bounds: a remote that
    /// charges per request skips the doubling steps, each of which would cost it one request.
    /// </summary>
    public int OnRead(string dataset, string key, long offset, long length, long atLeastBlocks = 0)
    {
        var now = timeProvider.GetUtcNow();
        if (!_patterns.TryGetValue((dataset, key), out var pattern))
        {
            // An approximate count: ConcurrentDictionary.Count takes every lock, too much for each read.
            if (Interlocked.Increment(ref _approximateCount) > MaxTrackedObjects)
            {
                ForgetIdle();
            }

            pattern = _patterns.GetOrAdd((dataset, key), static _ => new Pattern());
        }

        lock (pattern)
        {
            pattern.LastUsed = now;

            // Sequential: starts at (or slightly before, for readers that re-read a boundary, or within the window
            // ahead, for parallel part downloads) the end of the previous read. A first read at offset 0 counts too:
            // most readers of a file start at its beginning and keep going.
            var sequential = pattern.Seen
                ? offset >= pattern.NextOffset - blockSize && offset <= pattern.NextOffset + ((long)Math.Max(1, pattern.Window) * blockSize)
                : offset == 0;
            if (!sequential)
            {
                pattern.RunStart = offset;
            }

            pattern.NextOffset = Math.Max(offset + length, sequential ? pattern.NextOffset : 0);
            var runBlocks = 2 * ((pattern.NextOffset - pattern.RunStart) / blockSize);
            var limit = (int)Math.Min(maxWindowBlocks, Math.Max(Math.Min(shortRunWindowBlocks, maxWindowBlocks), runBlocks));
            pattern.Window = sequential
                ? (int)Math.Clamp(Math.Max(pattern.Window * 2L, atLeastBlocks), 1, Math.Max(1, limit))
                : pattern.Window / 2;
            pattern.Seen = true;
            return pattern.Window;
        }
    }

    public int TrackedObjects => _patterns.Count;

    /// <summary>Notes that the remote has answered a span of this object (a read of it is being tracked).</summary>
    public void OnAnswered(string dataset, string key)
    {
        if (_patterns.TryGetValue((dataset, key), out var pattern))
        {
            pattern.Answered = true;
        }
    }

    /// <summary>Whether the remote has answered a span of this object since its reads began to be tracked.</summary>
    public bool WasAnswered(string dataset, string key) => _patterns.TryGetValue((dataset, key), out var pattern) && pattern.Answered;

    private void ForgetIdle()
    {
        var cutoff = timeProvider.GetUtcNow() - IdleAfter;
        foreach (var (key, pattern) in _patterns)
        {
            if (pattern.LastUsed < cutoff)
            {
                _patterns.TryRemove(key, out _);
            }
        }

        if (_patterns.Count >= MaxTrackedObjects)
        {
            // All busy within a minute: start over rather than grow without bound.
            _patterns.Clear();
        }

        Volatile.Write(ref _approximateCount, _patterns.Count);
    }

    private sealed class Pattern
    {
        public bool Seen { get; set; }
        public long NextOffset { get; set; }
        public long RunStart { get; set; }
        public int Window { get; set; }
        public DateTimeOffset LastUsed { get; set; }

        // Written by a span's completion, read by readers: a stale read only holds one more span back.
        public volatile bool Answered;
    }
}
