using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// Kestrel limits. The probe listener is the one the pod network reaches, so it gets its own connection cap: a flood
/// of connections from another pod costs a bounded number of sockets and cannot starve the S3 endpoint (which has no
/// cap of its own: its clients are the app's processes). Header limits and the header timeout are Kestrel-wide.
/// The S3 listener's body limits are set per request by the S3 handler and are not touched here.
/// </summary>
internal static class ListenerLimits
{
    /// <summary>Request headers in total: larger headers get 431 and the connection closes.</summary>
    public const int MaxRequestHeadersTotalSize = 64 * 1024;

    /// <summary>Header fields per request (Kestrel's default, stated so it cannot drift): more get 431.</summary>
    public const int MaxRequestHeaderCount = 100;

    /// <summary>A client that has not sent its whole header block by then gets 408 and is disconnected (slowloris).</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Response bytes Kestrel holds for a connection before a write waits for the socket (its default is 64 KiB). A
    /// 64 KiB ranged GET plus its head fits, so its handler finishes without waiting for the client to read: no
    /// suspended async chain (seven state machines boxed, ~1.3 KB per request) and no thread hand-off per request.
    /// The cost is at most this much memory per connection whose reader is slow.
    /// </summary>
    public const int MaxResponseBufferSize = 128 * 1024;

    /// <summary>Open connections on the probe listener; kubelet and Prometheus need a handful.</summary>
    public const int ProbeMaxConnections = 64;

    public static void ApplyServerLimits(KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalSize;
        kestrel.Limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
        kestrel.Limits.RequestHeadersTimeout = RequestHeadersTimeout;
        kestrel.Limits.MaxResponseBufferSize = MaxResponseBufferSize;
    }

    /// <summary>Closes a new connection at once while <paramref name="max"/> are open on this listener.</summary>
    public static void CapConnections(ListenOptions listener, int max)
    {
        var open = 0;
        listener.Use(next => async connection =>
        {
            if (Interlocked.Increment(ref open) > max)
            {
                Interlocked.Decrement(ref open);
                connection.Abort(new ConnectionAbortedException($"more than {max} connections open on this listener"));
                return;
            }

            try
            {
                await next(connection);
            }
            finally
            {
                Interlocked.Decrement(ref open);
            }
        });
    }
}
