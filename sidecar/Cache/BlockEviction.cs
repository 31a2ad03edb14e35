namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Makes room for a block before it is written: reserves its bytes under the quota (evicting least-recently-used
/// blocks until they fit), then keeps the disk's free-space floor (evicting more). Pinned blocks are never evicted;
/// when room cannot be made the block is not stored (the caller passes it through).
/// </summary>
internal sealed class BlockEviction
{
    private const int FreeSpaceAttempts = 4;

    private readonly BlockIndex _index;
    private readonly BlockFileStore _files;
    private readonly long _quotaBytes;
    private readonly long _minFreeBytes;
    private readonly Func<long>? _availableFreeSpace;
    private long _evictions;

    /// <param name="availableFreeSpace">Bytes free on the cache's disk (statvfs); null when it cannot be known.</param>
    public BlockEviction(BlockIndex index, BlockFileStore files, long quotaBytes, long minFreeBytes, Func<long>? availableFreeSpace)
    {
        _index = index;
        _files = files;
        _quotaBytes = quotaBytes;
        _minFreeBytes = minFreeBytes;
        _availableFreeSpace = availableFreeSpace;
    }

    /// <summary>Blocks evicted so far (their files deleted).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>
    /// Reserves <paramref name="fileBytes"/> for a block about to be written; false (with the reason) when it does
    /// not fit. A reservation is turned into an entry by <see cref="BlockFileStore.TryWrite"/> or given back with
    /// <see cref="Release"/>. Reserving (not "check then write") keeps concurrent fills from overshooting together.
    /// </summary>
    public bool TryReserve(long fileBytes, out string refusal)
    {
        var victims = new List<BlockEntry>();
        if (!_index.TryReserve(fileBytes, _quotaBytes, victims))
        {
            refusal = "the block does not fit in the quota (every other block is in use or the quota is smaller than a block)";
            return false;
        }

        Delete(victims);
        if (!EnsureFreeSpace(fileBytes, victims))
        {
            _index.ReleaseReservation(fileBytes);
            refusal = $"the disk would have less than {_minFreeBytes} bytes free";
            return false;
        }

        refusal = "";
        return true;
    }

    public void Release(long fileBytes) => _index.ReleaseReservation(fileBytes);

    /// <summary>Evicts until the used bytes fit the quota again (the quota shrank since the files were written).</summary>
    public void EnforceQuota()
    {
        var excess = _index.UsedBytes - _quotaBytes;
        if (excess > 0)
        {
            var victims = new List<BlockEntry>();
            _index.EvictAtLeast(excess, victims);
            Delete(victims);
        }
    }

    /// <summary>Evicts LRU blocks until the disk keeps its free-space floor after writing <paramref name="fileBytes"/>.</summary>
    private bool EnsureFreeSpace(long fileBytes, List<BlockEntry> victims)
    {
        if (_availableFreeSpace is null)
        {
            return true;
        }

        for (var attempt = 0; attempt < FreeSpaceAttempts; attempt++)
        {
            long available;
            try
            {
                available = _availableFreeSpace();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Cannot tell: write and let ENOSPC, if any, turn into pass-through.
                return true;
            }

            var shortfall = _minFreeBytes + fileBytes - available;
            if (shortfall <= 0)
            {
                return true;
            }

            victims.Clear();
            _index.EvictAtLeast(shortfall, victims);
            if (victims.Count == 0)
            {
                return false;
            }

            Delete(victims);
        }

        return false;
    }

    private void Delete(List<BlockEntry> victims)
    {
        if (victims.Count == 0)
        {
            return;
        }

        Interlocked.Add(ref _evictions, victims.Count);
        _files.DeleteRemoved(victims);
    }
}
