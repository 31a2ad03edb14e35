namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// The HttpClient every HTTP source shares (one connection pool per origin), built on first use. No automatic
/// decompression: a compressed body would break byte ranges. No client timeout: the resilience pipeline owns timeouts.
/// </summary>
internal static class HttpSourceClient
{
    private static readonly Lazy<HttpClient> Client = new(Create);

    public static HttpClient Shared => Client.Value;

    private static HttpClient Create()
    {
        var handler = SourceConnections.CreateHandler();
        handler.AllowAutoRedirect = true;
        handler.MaxAutomaticRedirections = 5;
        return new HttpClient(handler)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestHeaders = { { "User-Agent", "fluid-serverless-sidecar" } },
        };
    }
}
