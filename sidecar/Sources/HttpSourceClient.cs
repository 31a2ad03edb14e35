using System.Net;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// The HttpClient every HTTP source shares (one connection pool per origin), built on first use. No automatic
/// decompression: a compressed body would break byte ranges. No client timeout: the resilience pipeline owns timeouts.
/// </summary>
internal static class HttpSourceClient
{
    private static readonly Lazy<HttpClient> Client = new(Create);

    public static HttpClient Shared => Client.Value;

    private static HttpClient Create() => new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        // Re-resolve DNS now and then: origins behind load balancers move.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 5,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
        DefaultRequestHeaders = { { "User-Agent", "fluid-serverless-sidecar" } },
    };
}
