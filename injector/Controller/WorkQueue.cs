using System.Threading.Channels;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// Keys waiting to be reconciled, each at most once: a key added again while it waits is not queued twice, so a burst of
/// edits to one Dataset is applied once, from its latest state. A key being processed may be queued again (a change
/// that arrives mid-pass gets its own pass).
/// </summary>
internal sealed class WorkQueue<TKey>
    where TKey : notnull
{
    private readonly Channel<TKey> _channel = Channel.CreateUnbounded<TKey>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<TKey> _waiting = [];
    private readonly Lock _lock = new();

    public void Add(TKey key)
    {
        lock (_lock)
        {
            if (!_waiting.Add(key))
            {
                return;
            }
        }

        _channel.Writer.TryWrite(key);
    }

    public bool IsWaiting(TKey key)
    {
        lock (_lock)
        {
            return _waiting.Contains(key);
        }
    }

    public async ValueTask<TKey> TakeAsync(CancellationToken cancel)
    {
        var key = await _channel.Reader.ReadAsync(cancel);
        lock (_lock)
        {
            _waiting.Remove(key);
        }

        return key;
    }
}
