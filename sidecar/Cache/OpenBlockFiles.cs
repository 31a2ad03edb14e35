namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Bounds how many block files stay open between hits (<see cref="OpenBlockFile"/>), so the sidecar never holds
/// more descriptors than it can afford. When one too many is open, the clock closes the first file in opening order
/// that no hit has read since the clock last passed it (a second chance: a hot file is kept, a cold one goes).
/// <para>
/// Files of entries removed from the index are closed at once by the index (<see cref="BlockEntry.MarkRemoved"/>);
/// their slots here are dropped when the clock next runs, and never counted as open.
/// </para>
/// </summary>
internal sealed class OpenBlockFiles(int capacity)
{
    private readonly Lock _gate = new();
    private readonly Queue<(BlockEntry Entry, OpenBlockFile File)> _clock = new();
    private bool _closed;

    public int Capacity { get; } = capacity;

    /// <summary>Files open now: slots whose entry still holds that file (at most <see cref="Capacity"/> + 1 to look at).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                var open = 0;
                foreach (var (entry, file) in _clock)
                {
                    open += entry.Holds(file) ? 1 : 0;
                }

                return open;
            }
        }
    }

    /// <summary>
    /// Keeps <paramref name="file"/> open as <paramref name="entry"/>'s, unless the entry already has one or has
    /// left the index (then the file is closed here). Closes the coldest file when over capacity.
    /// </summary>
    public void Keep(BlockEntry entry, OpenBlockFile file)
    {
        if (Capacity <= 0 || !entry.TryAttachOpenFile(file))
        {
            file.Dispose();
            return;
        }

        // Marked as read: a file just opened is hot, and the clock closes an older one first.
        file.RecentlyUsed = true;
        lock (_gate)
        {
            if (_closed)
            {
                // A read that raced the cache's disposal: nothing may stay open after CloseAll.
                entry.CloseOpenFile(file);
                return;
            }

            _clock.Enqueue((entry, file));

            // Each file gets at most one second chance per pass, so this ends within two passes of the queue.
            var budget = 2 * _clock.Count;
            while (_clock.Count > Capacity && budget-- > 0)
            {
                var oldest = _clock.Dequeue();
                if (!oldest.Entry.Holds(oldest.File))
                {
                    continue; // closed already, by a removal from the index
                }

                if (oldest.File.RecentlyUsed)
                {
                    oldest.File.RecentlyUsed = false;
                    _clock.Enqueue(oldest);
                    continue;
                }

                oldest.Entry.CloseOpenFile(oldest.File);
            }
        }
    }

    /// <summary>Closes every file, and any a later read would keep (the cache is being disposed).</summary>
    public void CloseAll()
    {
        lock (_gate)
        {
            _closed = true;
            while (_clock.TryDequeue(out var open))
            {
                open.Entry.CloseOpenFile(open.File);
            }
        }
    }
}
