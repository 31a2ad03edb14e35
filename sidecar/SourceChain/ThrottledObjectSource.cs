using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.SourceChain;

/// <summary>
/// The dataset's source as prefetch sees it when a bandwidth cap is set: every byte read takes tokens first.
/// Wrapping the source (not the cache) throttles at block granularity and leaves on-demand reads, which use the
/// unwrapped source, unthrottled. Same <see cref="Identity"/>, so warmed blocks are the ones readers look up.
/// </summary>
internal sealed class ThrottledObjectSource(IObjectSource inner, TokenBucket bucket) : IObjectSourceWrapper
{
    public string Identity => inner.Identity;

    /// <summary>The wrapped source.</summary>
    public IObjectSource Inner => inner;

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await bucket.TakeAsync(destination.Length, cancellationToken);
        await inner.ReadAsync(obj, offset, destination, cancellationToken);
    }

    /// <summary>Tokens for the whole rest of the span up front: the cap holds on average, one request stays one request.</summary>
    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        await bucket.TakeAsync(sink.Remaining, cancellationToken);
        await inner.ReadIntoAsync(obj, sink, cancellationToken);
    }

    /// <summary>The wrapper owns nothing: the dataset's source is disposed by whoever built the dataset.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
