using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Resilience;
using Fluid.Serverless.Sidecar.S3Api.Auth;
using Fluid.Serverless.Sidecar.S3Api.Writes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Yarp.ReverseProxy.Forwarder;

namespace Fluid.Serverless.Sidecar.S3Api.Passthrough;

/// <summary>
/// Buckets that are not datasets go to the configured upstream S3 endpoint with YARP's <see cref="IHttpForwarder"/>,
/// streaming both ways. The app only knows its pod-local credentials, so the client's signature is dropped and the
/// request is signed anew with the sidecar's upstream credentials (payload UNSIGNED-PAYLOAD, so bodies stream; an
/// aws-chunked body is decoded — and its checksums verified — on the way). Upstream answers, errors included, reach
/// the client unchanged.
/// </summary>
/// <remarks>
/// Resilience, with the options (names and defaults) of a dataset's source: the per-attempt timeout bounds how long
/// the upstream may stay silent (YARP's activity timeout: no response headers or body bytes for that long cancels the
/// exchange), and a circuit breaker counts exchanges that got no answer or a 5xx answer; once open, requests fail at
/// once with 503 ServiceUnavailable naming the upstream, until a probe after the break duration gets an answer.
/// There are no retries and no overall timeout: bodies stream (a request cannot be replayed, a large PUT may take
/// long while progressing), and the client's SDK retries a 503 itself.
/// </remarks>
internal sealed class UpstreamForwarder : IDisposable
{
    private readonly IHttpForwarder _forwarder;
    private readonly string _endpoint;
    private readonly ResigningTransformer _transformer;
    private readonly ForwarderRequestConfig _requestConfig;
    private readonly ResiliencePipeline<bool> _breaker; // result: the upstream answered (see Answered)
    private readonly TimeSpan _breakDuration;
    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    });

    public UpstreamForwarder(IHttpForwarder forwarder, UpstreamConfig upstream, string accessKeyId, string secretAccessKey, TimeProvider time, SourceResilienceOptions resilience, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(resilience);
        _forwarder = forwarder;
        _endpoint = upstream.Endpoint.TrimEnd('/');
        _transformer = new ResigningTransformer(upstream.Region, accessKeyId, secretAccessKey, time);
        _requestConfig = new ForwarderRequestConfig { ActivityTimeout = resilience.AttemptTimeout };
        _breakDuration = resilience.BreakerBreak;
        var name = "upstream " + _endpoint;
        _breaker = new ResiliencePipelineBuilder<bool> { Name = name, TimeProvider = time }
            .AddCircuitBreaker(SourcePipelineFactory.WithBreakerSettings(
                new CircuitBreakerStrategyOptions<bool> { ShouldHandle = static args => ValueTask.FromResult(!args.Outcome.Result) },
                name,
                resilience,
                logger,
                static _ => "no answer or 5xx answers"))
            .Build();
    }

    /// <summary>Forwards the request; null when the upstream answered (whatever its status), else the error to send.</summary>
    public async ValueTask<S3Error?> ForwardAsync(HttpContext context, string bucket)
    {
        var request = context.Request;
        if (request.Headers["x-amz-content-sha256"].ToString().StartsWith("STREAMING-", StringComparison.Ordinal)
            || request.Headers.ContentEncoding.ToString().Contains("aws-chunked", StringComparison.OrdinalIgnoreCase))
        {
            // Chunk signatures were made with the app's key: the upstream gets the decoded (and verified) bytes.
            try
            {
                request.Body = UploadBody.Open(request);
            }
            catch (UploadRejectedException e)
            {
                return e.Error with { BucketName = bucket };
            }

            request.Headers.ContentLength = long.TryParse(request.Headers["x-amz-decoded-content-length"], NumberStyles.None, CultureInfo.InvariantCulture, out var length) ? length : null;
            request.Headers.Remove("Content-Encoding");
        }

        var exchange = new Exchange(context);
        try
        {
            await _breaker.ExecuteAsync(
                async (state, _) =>
                {
                    state.Error = await _forwarder.SendAsync(state.Context, _endpoint, _client, _requestConfig, _transformer);
                    // Answered: any status below 500, or the client went away (not the upstream's failure). A bool, not
                    // an enum: Polly's generic pipeline over an enum result is not Native-AOT clean.
                    return state.Error == ForwarderError.None
                        ? state.Context.Response.StatusCode < 500
                        : state.Context.RequestAborted.IsCancellationRequested;
                },
                exchange,
                context.RequestAborted);
        }
        catch (BrokenCircuitException)
        {
            return S3Error.ServiceUnavailable(bucket, $"the upstream S3 endpoint {_endpoint} is failing (no answer or 5xx answers); requests fail at once for up to {_breakDuration.TotalSeconds:0.#} s before it is tried again");
        }

        var error = exchange.Error;
        if (error == ForwarderError.None || context.Response.HasStarted)
        {
            return null;
        }

        if (context.Features.Get<IForwarderErrorFeature>()?.Exception is UploadRejectedException rejected)
        {
            return rejected.Error with { BucketName = bucket };
        }

        return context.RequestAborted.IsCancellationRequested
            ? null
            : S3Error.ServiceUnavailable(bucket, $"the upstream S3 endpoint {_endpoint} did not answer ({error}: {context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message})");
    }

    public void Dispose() => _client.Dispose();

    /// <summary>One forwarded request, and what YARP reported for it.</summary>
    private sealed class Exchange(HttpContext context)
    {
        public HttpContext Context { get; } = context;

        public ForwarderError Error { get; set; }
    }

    private sealed class ResigningTransformer(string region, string accessKeyId, string secretAccessKey, TimeProvider time) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            foreach (var name in new[] { "Authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-decoded-content-length", "x-amz-trailer" })
            {
                proxyRequest.Headers.Remove(name);
            }

            // The raw target as the client sent it (Request.Path would normalize "a/../b" and decode %2F), unchanged on the wire.
            var raw = SigV4.OriginForm(httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "/");
            var uri = new Uri(destinationPrefix.TrimEnd('/') + raw, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
            proxyRequest.RequestUri = uri;
            var amzDate = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            const string Payload = "UNSIGNED-PAYLOAD";
            proxyRequest.Headers.Host = uri.Authority;
            proxyRequest.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
            proxyRequest.Headers.TryAddWithoutValidation("x-amz-content-sha256", Payload);
            var canonical = new StringBuilder(256);
            canonical.Append(proxyRequest.Method.Method).Append('\n');
            SigV4.AppendCanonicalPath(canonical, uri.AbsolutePath);
            canonical.Append('\n');
            SigV4.AppendCanonicalQuery(canonical, uri.Query.TrimStart('?'));

            const string SignedHeaders = "host;x-amz-content-sha256;x-amz-date";
            canonical.Append('\n').Append("host:").Append(uri.Authority).Append('\n')
                .Append("x-amz-content-sha256:").Append(Payload).Append('\n')
                .Append("x-amz-date:").Append(amzDate).Append("\n\n")
                .Append(SignedHeaders).Append('\n').Append(Payload);
            var day = amzDate[..8];
            var scope = $"{day}/{region}/s3/aws4_request";
            var signature = SigV4.Signature(SigV4.SigningKey(secretAccessKey, day, region, "s3"), SigV4.StringToSign(amzDate, scope, canonical.ToString()));
            proxyRequest.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={accessKeyId}/{scope}, SignedHeaders={SignedHeaders}, Signature={signature}");
        }
    }
}
