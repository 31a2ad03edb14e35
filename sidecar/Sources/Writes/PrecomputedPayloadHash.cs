using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// Lets a request to the remote be signed with a payload SHA-256 that is already known (the client's
/// x-amz-content-sha256, verified while the body streams through) instead of AWSSDK hashing the body a second time
/// with aws-chunked signing. The SDK signs <c>IRequest.PrecomputedContentSha256</c> as is when the request is not
/// chunk-encoded; this handler, placed right before the SDK's signer, sets it on the marked requests.
/// </summary>
internal static class PrecomputedPayloadHash
{
    private static readonly ConditionalWeakTable<AmazonWebServiceRequest, string> Hashes = [];
    private static int _registered;

    /// <summary>Installs the handler in every S3 client created from now on (call before creating clients).</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            RuntimePipelineCustomizerRegistry.Instance.Register(new Customizer());
        }
    }

    /// <summary>Signs <paramref name="request"/> with <paramref name="sha256Hex"/> as its payload hash (the body must hash to it).</summary>
    public static void Attach(AmazonWebServiceRequest request, string sha256Hex) => Hashes.AddOrUpdate(request, sha256Hex);

    private sealed class Customizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => "fluid-sidecar-precomputed-payload-hash";

        public void Customize(Type type, RuntimePipeline pipeline)
        {
            ArgumentNullException.ThrowIfNull(pipeline);
            pipeline.AddHandlerBefore<Signer>(new Handler());
        }
    }

    private sealed class Handler : PipelineHandler
    {
        public override void InvokeSync(IExecutionContext executionContext)
        {
            Apply(executionContext);
            base.InvokeSync(executionContext);
        }

        public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            Apply(executionContext);
            return base.InvokeAsync<T>(executionContext);
        }

        private static void Apply(IExecutionContext executionContext)
        {
            var context = executionContext.RequestContext;
            if (context.OriginalRequest is { } original && Hashes.TryGetValue(original, out var hash))
            {
                context.Request.PrecomputedContentSha256 = hash;
            }
        }
    }
}
