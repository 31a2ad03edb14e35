using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api.Auth;

/// <summary>
/// The S3 endpoint's posture, checked before any operation runs. Strict (a <see cref="SigV4Verifier"/> is given): every
/// request must carry a valid signature made with the pod-local credentials. Default: a request without a SigV4
/// signature may only read datasets (GET/HEAD/LIST, so curl and HTTP-only readers keep working); a write, a delete or a
/// request the passthrough would forward to the upstream with the sidecar's own credentials needs one, made with any
/// key. An SSRF in the app that makes the app fetch a URL sends no such signature, so it cannot reach those.
/// </summary>
internal sealed class S3AccessPolicy(SigV4Verifier? verifier, bool passthroughConfigured)
{
    /// <summary>Null when the request may run; otherwise the 403 to answer.</summary>
    public S3Error? Check(HttpContext context, S3Operation operation, S3RequestTarget target, DatasetSnapshot snapshot)
    {
        if (verifier is not null)
        {
            return verifier.Verify(context);
        }

        if (IsSigV4Signed(context.Request))
        {
            return null;
        }

        if (operation.IsWrite())
        {
            return Refused($"{operation.Name()} needs a signed request") with { BucketName = target.Bucket, Key = target.Key };
        }

        if (passthroughConfigured && target.Bucket is { } bucket && !snapshot.TryGet(bucket, out _))
        {
            return Refused($"bucket '{bucket}' is not a dataset and is forwarded to the upstream, which needs a signed request") with { BucketName = bucket };
        }

        return null;
    }

    /// <summary>A SigV4 Authorization header or presigned query (any key: the default posture does not verify it).</summary>
    internal static bool IsSigV4Signed(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(SigV4.Algorithm + " ", StringComparison.Ordinal))
        {
            return authorization.Contains("Credential=", StringComparison.Ordinal) && authorization.Contains("Signature=", StringComparison.Ordinal);
        }

        var query = request.Query;
        return query["X-Amz-Algorithm"] == SigV4.Algorithm && query.ContainsKey("X-Amz-Credential") && query.ContainsKey("X-Amz-Signature");
    }

    private static S3Error Refused(string what) => S3Error.AccessDenied(
        $"Unsigned request refused: {what}. The sidecar accepts unsigned requests only for reading datasets; sign the "
        + "request with AWS Signature Version 4 (any access key and secret work, e.g. the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
        + "the injector sets) instead of sending it anonymously (--no-sign-request, UNSIGNED, plain curl).");
}
