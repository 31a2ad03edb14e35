namespace Fluid.Serverless.Testing;

/// <summary>
/// An Authorization header with SigV4's shape and a made-up key. The sidecar's default posture asks unsigned writes,
/// deletes and passthrough requests for a signature but does not verify it (any key passes), so tests that send such
/// requests by hand, to look at how the sidecar answers the body, add this as a signing client would.
/// </summary>
internal static class AnyKeySignature
{
    public const string Authorization =
        "AWS4-HMAC-SHA256 Credential=anykey/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>Adds the header to every request of <paramref name="http"/>; returns it for chaining.</summary>
    public static HttpClient WithAnyKeySignature(this HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", Authorization);
        return http;
    }
}
