using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// How sources open connections. One rule added to the system resolver: "localhost" and every "*.localhost" name is
/// the loopback address (RFC 6761 §6.3), which glibc does not implement. Virtual-hosted S3 addressing against a
/// gateway on the same pod or node ("bucket.localhost:port") then works without touching /etc/hosts.
/// </summary>
internal static class SourceConnections
{
    public static SocketsHttpHandler CreateHandler() => new()
    {
        // A compressed body would break byte ranges and lengths.
        AutomaticDecompression = DecompressionMethods.None,
        // Re-resolve DNS now and then: endpoints behind load balancers move.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ConnectCallback = ConnectAsync,
    };

    internal static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        EndPoint target = IsLoopbackName(endpoint.Host) ? new IPEndPoint(IPAddress.Loopback, endpoint.Port) : endpoint;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>
/// Gives each S3 client an HttpClient built with <see cref="SourceConnections"/> (the SDK caches it per client).
/// No HttpClient timeout: the resilience pipeline owns timeouts and cancels through the token.
/// </summary>
internal sealed class S3HttpClientFactory : HttpClientFactory
{
    public static readonly S3HttpClientFactory Instance = new();

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) =>
        new(SourceConnections.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    // null: cache per SDK client; our pool already shares SDK clients per endpoint and credentials.
    public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;
}
