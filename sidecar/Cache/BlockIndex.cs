namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>One block file the cache knows about.</summary>
internal sealed class BlockEntry(BlockKey key, string path, long fileBytes)
{
    private int _pins;

    public BlockKey Key { get; } = key;
    public string Path { get; } = path;

    /// <summary>Bytes the file takes on disk (header + payload): what the quota counts.</summary>
    public long FileBytes { get; } = fileBytes;

    /// <summary>Position in the LRU list; null once the entry has left the index.</summary>
    internal LinkedListNode<BlockEntry>? Node { get; set; }

    /// <summary>When a hit last pushed the file's mtime forward (so the LRU order survives restarts).</summary>
    internal long LastPersistedTouchTicks { get; set; }

    public bool IsPinned => Volatile.Read(ref _pins) > 0;

    public void Pin() => Interlocked.Increment(ref _pins);

    public void Unpin() => Interlocked.Decrement(ref _pins);
}

/// <summary>
/// The in-memory index of block files: lookup by key, LRU order and the bytes they use. Only bookkeeping:
/// it never touches the disk, so every operation holds its lock for a few pointer moves.
/// </summary>
internal sealed class BlockIndex
{
    private readonly Lock _gate = new();
    private readonly Dictionary<BlockKey, BlockEntry> _entries = [];

    // Head = least recently used, tail = most recently used.
    private readonly LinkedList<BlockEntry> _lru = new();
    private long _usedBytes;

    public long UsedBytes => Volatile.Read(ref _usedBytes);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public bool Contains(BlockKey key)
    {
        lock (_gate)
        {
            return _entries.ContainsKey(key);
        }
    }

    public bool IsCurrent(BlockEntry entry)
    {
        lock (_gate)
        {
            return _entries.TryGetValue(entry.Key, out var current) && ReferenceEquals(current, entry);
        }
    }

    /// <summary>Finds the entry, marks it most recently used and pins it (the caller unpins).</summary>
    public BlockEntry? TouchAndPin(BlockKey key)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                return null;
            }

            MoveToTail(entry);
            entry.Pin();
            return entry;
        }
    }

    /// <summary>
    /// Reserves room for a new file of <paramref name="bytes"/> under <paramref name="quotaBytes"/>, choosing
    /// unpinned least-recently-used entries to evict (removed from the index; the caller deletes their files).
    /// False (nothing reserved, nothing removed) when the quota cannot be met without evicting pinned blocks.
    /// </summary>
    public bool TryReserve(long bytes, long quotaBytes, List<BlockEntry> victims)
    {
        lock (_gate)
        {
            var excess = _usedBytes + bytes - quotaBytes;
            if (excess > 0 && !CollectVictims(excess, victims))
            {
                return false;
            }

            foreach (var victim in victims)
            {
                RemoveLocked(victim);
            }

            _usedBytes += bytes;
            return true;
        }
    }

    /// <summary>Removes unpinned least-recently-used entries totalling at least <paramref name="bytes"/>, if it can.</summary>
    public void EvictAtLeast(long bytes, List<BlockEntry> victims)
    {
        lock (_gate)
        {
            CollectVictims(bytes, victims);
            foreach (var victim in victims)
            {
                RemoveLocked(victim);
            }
        }
    }

    public void ReleaseReservation(long bytes)
    {
        lock (_gate)
        {
            _usedBytes -= bytes;
        }
    }

    /// <summary>
    /// Adds a freshly written file whose bytes were reserved, as most recently used. Returns the entry it replaced
    /// (same key written twice), whose file is already overwritten: the caller must not delete it.
    /// </summary>
    public BlockEntry? AddReserved(BlockEntry entry)
    {
        lock (_gate)
        {
            BlockEntry? replaced = null;
            if (_entries.TryGetValue(entry.Key, out var existing))
            {
                RemoveLocked(existing);
                replaced = existing;
            }

            _entries.Add(entry.Key, entry);
            entry.Node = _lru.AddLast(entry);
            return replaced;
        }
    }

    /// <summary>
    /// Adds a file found on disk (by a read before the scan reached it, or by the scan). Files of the scan come in
    /// oldest-first order per call and go before everything this process touched.
    /// </summary>
    public BlockEntry AddFound(BlockEntry entry, bool asMostRecent)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(entry.Key, out var existing))
            {
                return existing;
            }

            _entries.Add(entry.Key, entry);
            entry.Node = asMostRecent ? _lru.AddLast(entry) : _lru.AddFirst(entry);
            _usedBytes += entry.FileBytes;
            return entry;
        }
    }

    /// <summary>Removes <paramref name="entry"/> if it is still the current entry of its key.</summary>
    public bool Remove(BlockEntry entry)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(entry.Key, out var current) || !ReferenceEquals(current, entry))
            {
                return false;
            }

            RemoveLocked(entry);
            return true;
        }
    }

    /// <summary>Removes every block of one object (pinned or not: readers hold their bytes in memory).</summary>
    public void RemoveObject(string sourceIdentity, string objectKey, List<BlockEntry> removed)
    {
        lock (_gate)
        {
            foreach (var entry in _entries.Values)
            {
                if (entry.Key.ObjectKey == objectKey && entry.Key.SourceIdentity == sourceIdentity)
                {
                    removed.Add(entry);
                }
            }

            foreach (var entry in removed)
            {
                RemoveLocked(entry);
            }
        }
    }

    private bool CollectVictims(long bytes, List<BlockEntry> victims)
    {
        long freed = 0;
        for (var node = _lru.First; node is not null && freed < bytes; node = node.Next)
        {
            if (!node.Value.IsPinned)
            {
                victims.Add(node.Value);
                freed += node.Value.FileBytes;
            }
        }

        if (freed >= bytes)
        {
            return true;
        }

        victims.Clear();
        return false;
    }

    private void MoveToTail(BlockEntry entry)
    {
        if (entry.Node is { } node && !ReferenceEquals(node, _lru.Last))
        {
            _lru.Remove(node);
            _lru.AddLast(node);
        }
    }

    private void RemoveLocked(BlockEntry entry)
    {
        _entries.Remove(entry.Key);
        if (entry.Node is { } node)
        {
            _lru.Remove(node);
            entry.Node = null;
        }

        _usedBytes -= entry.FileBytes;
    }
}
