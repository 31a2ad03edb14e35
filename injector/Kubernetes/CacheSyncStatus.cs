namespace Fluid.Serverless.Injector.Kubernetes;

/// <summary>Whether every watch cache has completed its initial list; /readyz waits for it so no pod is admitted
/// against a half-known cluster.</summary>
internal sealed class CacheSyncStatus
{
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public void Expect(string cache)
    {
        lock (_lock)
        {
            _pending.Add(cache);
        }
    }

    public void MarkSynced(string cache)
    {
        lock (_lock)
        {
            _pending.Remove(cache);
        }
    }

    public bool IsSynced
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count == 0;
            }
        }
    }

    public IReadOnlyList<string> Pending
    {
        get
        {
            lock (_lock)
            {
                return [.. _pending.Order(StringComparer.Ordinal)];
            }
        }
    }
}
