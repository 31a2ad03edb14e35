using System.Collections.Concurrent;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.SourceChain;

/// <summary>
/// A dataset read through its Fluid runtime's S3 gateway (e.g. Alluxio's proxy, <c>DatasetConfig.Gateway</c>), falling
/// back to the dataset's own source. Metadata (HEAD, LIST: the ETags cached blocks are keyed by) always comes from the
/// source, and <see cref="Identity"/> is the source's, so cached blocks do not depend on which side served them.
/// Bytes come from the gateway with the gateway's own view of the object (its ETag differs from the source's, and reads
/// are pinned to the ETag); when the gateway does not have the object at the same size, changed it during the read,
/// or is unavailable, the same read goes to the source.
/// </summary>
internal sealed class GatewayFallbackSource(IObjectSource gateway, IObjectSource source) : IObjectSourceWrapper
{
    // the gateway's object per (key, source ETag); null = the gateway has no matching copy, read the source
    private readonly ConcurrentDictionary<(string Key, string ETag), RemoteObject?> _gatewayObjects = new();

    public string Identity => source.Identity;

    /// <summary>The dataset's own source (writes and metadata).</summary>
    public IObjectSource Inner => source;

    /// <summary>Reads the gateway served (for /status and tests).</summary>
    public long GatewayReads => Interlocked.Read(ref _gatewayReads);

    /// <summary>Reads that went to the source because the gateway could not serve them.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    private const int MaxRemembered = 100_000;
    private long _gatewayReads;
    private long _fallbacks;

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => source.HeadAsync(key, cancellationToken);

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => source.ListAsync(request, cancellationToken);

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (await GatewayObjectAsync(obj, cancellationToken) is { } onGateway)
        {
            try
            {
                await gateway.ReadAsync(onGateway, offset, destination, cancellationToken);
                Interlocked.Increment(ref _gatewayReads);
                return;
            }
            catch (Exception exception) when (IsGatewayMiss(exception, cancellationToken))
            {
                _gatewayObjects.TryRemove((obj.Key, obj.ETag), out _);
            }
        }

        Interlocked.Increment(ref _fallbacks);
        await source.ReadAsync(obj, offset, destination, cancellationToken);
    }

    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(sink);
        if (await GatewayObjectAsync(obj, cancellationToken) is { } onGateway)
        {
            // a span read may have delivered part of its bytes when the gateway fails: the rest, not the whole span,
            // comes from the source (the sink tracks what it received)
            try
            {
                await gateway.ReadIntoAsync(onGateway, sink, cancellationToken);
                Interlocked.Increment(ref _gatewayReads);
                return;
            }
            catch (Exception exception) when (IsGatewayMiss(exception, cancellationToken))
            {
                _gatewayObjects.TryRemove((obj.Key, obj.ETag), out _);
            }
        }

        Interlocked.Increment(ref _fallbacks);
        await source.ReadIntoAsync(obj, sink, cancellationToken);
    }

    /// <summary>The gateway owns nothing shared: both sources belong to this wrapper.</summary>
    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await source.DisposeAsync();
    }

    private async ValueTask<RemoteObject?> GatewayObjectAsync(RemoteObject obj, CancellationToken cancellationToken)
    {
        if (_gatewayObjects.TryGetValue((obj.Key, obj.ETag), out var known))
        {
            return known;
        }

        RemoteObject? found;
        try
        {
            found = await gateway.HeadAsync(obj.Key, cancellationToken);
        }
        catch (Exception exception) when (IsGatewayMiss(exception, cancellationToken))
        {
            return null; // not remembered: the gateway may be back for the next read
        }

        var usable = found is not null && found.Size == obj.Size ? found : null;
        if (_gatewayObjects.Count >= MaxRemembered)
        {
            _gatewayObjects.Clear(); // a bound, not a cache policy: one HEAD per object again after this
        }

        _gatewayObjects[(obj.Key, obj.ETag)] = usable;
        return usable;
    }

    private static bool IsGatewayMiss(Exception exception, CancellationToken cancellationToken) =>
        exception is SourceUnavailableException or RemoteObjectChangedException or RemoteObjectNotFoundException or IOException or HttpRequestException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
