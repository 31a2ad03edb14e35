using Fluid.Serverless.Sidecar.Sources;

namespace PrefetchBench;

/// <summary>Counts reads that reach the remote (the bench checks none happen when warmed data is read back).</summary>
internal sealed class CountingSource(IObjectSource inner) : IObjectSource
{
    private long _reads;

    public long Reads => Interlocked.Read(ref _reads);
    public string Identity => inner.Identity;
    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);
    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

    public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.ReadAsync(obj, offset, destination, cancellationToken);
    }

    /// <summary>A span (one ranged GET for several blocks) counts as one read.</summary>
    public ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.ReadIntoAsync(obj, sink, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
