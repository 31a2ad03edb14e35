using Fluid.Serverless.Sidecar.Sources;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Fluid.Serverless.Sidecar.Resilience;

/// <summary>
/// Runs every call of a source through its resilience pipeline and turns what is left of a failure into the
/// interface's contract: <see cref="RemoteObjectChangedException"/>, <see cref="RemoteObjectNotFoundException"/>
/// and caller cancellation pass through; anything else means the remote could not serve the call and becomes
/// <see cref="SourceUnavailableException"/> (which the S3 endpoint answers with 503 when nothing is cached).
/// </summary>
internal sealed class ResilientObjectSource(IObjectSource inner, ResiliencePipeline pipeline) : IObjectSourceWrapper
{
    public string Identity => inner.Identity;

    /// <summary>The wrapped source.</summary>
    public IObjectSource Inner => inner;

    public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return await pipeline.ExecuteAsync(static (state, token) => state.inner.HeadAsync(state.key, token), (inner, key), cancellationToken);
        }
        catch (Exception e) when (IsUnavailable(e, cancellationToken))
        {
            throw Unavailable("HEAD", key, e);
        }
    }

    public async ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await pipeline.ExecuteAsync(static (state, token) => state.inner.ListAsync(state.request, token), (inner, request), cancellationToken);
        }
        catch (Exception e) when (IsUnavailable(e, cancellationToken))
        {
            throw Unavailable("LIST", request.Prefix, e);
        }
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        try
        {
            // Each attempt refills the whole destination from the offset: a retried read never mixes partial bodies.
            await pipeline.ExecuteAsync(
                static (state, token) => state.inner.ReadAsync(state.obj, state.offset, state.destination, token),
                (inner, obj, offset, destination),
                cancellationToken);
        }
        catch (Exception e) when (IsUnavailable(e, cancellationToken))
        {
            throw Unavailable("GET", obj.Key, e);
        }
    }

    /// <summary>
    /// A streamed range read under the pipeline. Each attempt resumes where the sink stands, so a body broken midway
    /// refetches only what had not arrived. An attempt that failed after making progress starts a fresh pipeline run
    /// for the rest: a long span streaming from a slow but healthy remote is not failed by the retry or timeout budget
    /// meant for one request, while a remote that delivers nothing still fails after the usual retries.
    /// </summary>
    public async ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(sink);
        while (true)
        {
            var remainingBefore = sink.Remaining;
            try
            {
                await pipeline.ExecuteAsync(
                    static (state, token) => state.inner.ReadIntoAsync(state.obj, state.sink, token),
                    (inner, obj, sink),
                    cancellationToken);
                return;
            }
            catch (Exception e) when (IsUnavailable(e, cancellationToken))
            {
                if (sink.Remaining < remainingBefore)
                {
                    continue;
                }

                throw Unavailable("GET", obj.Key, e);
            }
        }
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static bool IsUnavailable(Exception e, CancellationToken cancellationToken) => e switch
    {
        RemoteObjectChangedException or RemoteObjectNotFoundException or SourceUnavailableException => false,
        ArgumentException => false,
        OperationCanceledException when cancellationToken.IsCancellationRequested => false,
        _ => true,
    };

    private SourceUnavailableException Unavailable(string operation, string key, Exception e)
    {
        var why = e switch
        {
            BrokenCircuitException => "the circuit is open after repeated failures",
            TimeoutRejectedException => "it timed out",
            _ => ErrorText.Describe(e),
        };
        return new SourceUnavailableException($"{operation} '{key}' from {inner.Identity} failed: {why}", e);
    }
}
