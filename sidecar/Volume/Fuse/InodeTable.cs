using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// Maps FUSE inode numbers to dataset keys and back. A directory's key is its prefix ending in '/' ("" for the
/// root), a file's key is the object key, so a name that turns from file into directory gets a new inode.
/// Inode numbers are never reused within a mount (generation stays 0). Entries live while the kernel holds a
/// lookup reference (LOOKUP and READDIRPLUS add one, FORGET removes them), so memory follows the kernel's
/// dentry cache, not the dataset size.
/// </summary>
internal sealed class InodeTable
{
    public const ulong RootInode = 1;

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, InodeEntry> _byInode = [];
    private readonly Dictionary<string, InodeEntry> _byKey = new(StringComparer.Ordinal);
    private ulong _nextInode = RootInode + 1;

    public InodeTable()
    {
        Root = new InodeEntry(RootInode, "", isDirectory: true, obj: null);
        _byInode.Add(RootInode, Root);
        _byKey.Add("", Root);
    }

    public InodeEntry Root { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byInode.Count;
            }
        }
    }

    public bool TryGet(ulong inode, out InodeEntry entry)
    {
        lock (_lock)
        {
            return _byInode.TryGetValue(inode, out entry!);
        }
    }

    /// <summary>Finds or creates the entry for a key and takes one kernel lookup reference on it.</summary>
    public InodeEntry Acquire(string key, bool isDirectory, RemoteObject? obj)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out var entry))
            {
                entry = new InodeEntry(_nextInode++, key, isDirectory, obj);
                _byKey.Add(key, entry);
                _byInode.Add(entry.Inode, entry);
            }
            else if (obj is not null)
            {
                entry.Object = obj;
            }
            entry.LookupCount++;
            return entry;
        }
    }

    public bool TryGetByKey(string key, out InodeEntry entry)
    {
        lock (_lock)
        {
            return _byKey.TryGetValue(key, out entry!);
        }
    }

    /// <summary>After unlink/rmdir: the key no longer names this entry (the kernel may still hold it); a new file under the key gets a new inode.</summary>
    public void Detach(string key)
    {
        lock (_lock)
        {
            _byKey.Remove(key);
        }
    }

    /// <summary>
    /// After a rename the kernel keeps the node ids under the new name: the entry of <paramref name="fromKey"/> (and,
    /// for a directory, every entry under it) takes the new key. An entry the target key had is detached.
    /// </summary>
    public void Rename(string fromKey, string toKey)
    {
        lock (_lock)
        {
            _byKey.Remove(toKey);
            if (!fromKey.EndsWith('/'))
            {
                if (_byKey.Remove(fromKey, out var file))
                {
                    file.Key = toKey;
                    _byKey[toKey] = file;
                }
                return;
            }
            var moved = _byKey.Where(pair => pair.Key.StartsWith(fromKey, StringComparison.Ordinal)).ToList();
            foreach (var (key, entry) in moved)
            {
                _byKey.Remove(key);
                entry.Key = toKey + key[fromKey.Length..];
                _byKey[entry.Key] = entry;
            }
        }
    }

    /// <summary>Drops kernel lookup references; the entry goes when none remain (the root never goes).</summary>
    public void Forget(ulong inode, ulong count)
    {
        lock (_lock)
        {
            if (inode == RootInode || !_byInode.TryGetValue(inode, out var entry))
            {
                return;
            }
            entry.LookupCount = entry.LookupCount > count ? entry.LookupCount - count : 0;
            if (entry.LookupCount == 0)
            {
                _byInode.Remove(inode);
                // A detached entry's key may belong to a newer entry by now.
                if (_byKey.TryGetValue(entry.Key, out var current) && ReferenceEquals(current, entry))
                {
                    _byKey.Remove(entry.Key);
                }
            }
        }
    }
}

internal sealed class InodeEntry(ulong inode, string key, bool isDirectory, RemoteObject? obj)
{
    public ulong Inode { get; } = inode;
    /// <summary>Changes only on rename (under the table's lock).</summary>
    public string Key { get; set; } = key;
    public bool IsDirectory { get; } = isDirectory;

    /// <summary>Latest metadata seen for a file (refreshed by GETATTR/OPEN through the metadata cache).</summary>
    public RemoteObject? Object { get; set; } = obj;

    /// <summary>Guarded by the table's lock.</summary>
    public ulong LookupCount { get; set; }
}
