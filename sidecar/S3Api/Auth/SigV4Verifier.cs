using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Fluid.Serverless.Sidecar.S3Api.Auth;

/// <summary>
/// Verifies AWS Signature Version 4 on every request when pod-local credentials are configured: the Authorization
/// header or a presigned URL's X-Amz-* query (with expiry). The canonical request is rebuilt from the raw target
/// (path segments decoded and re-encoded per RFC 3986, query sorted), the signed headers and the declared payload
/// hash. Signed streaming bodies are checked at header level (their seed signature); chunk signatures are not checked.
/// </summary>
internal sealed class SigV4Verifier
{
    private const string Algorithm = SigV4.Algorithm;
    private static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(15);
    private readonly Lazy<PodCredentials> _credentials;
    private readonly TimeProvider _time;

    public SigV4Verifier(string accessKeyId, string secretAccessKey, TimeProvider time)
        : this(new Lazy<PodCredentials>(() => new PodCredentials(accessKeyId, secretAccessKey)), time)
    {
    }

    /// <summary>Credentials known only when the host starts (generated ones are read or written then).</summary>
    public SigV4Verifier(Lazy<PodCredentials> credentials, TimeProvider time)
    {
        _credentials = credentials;
        _time = time;
    }

    /// <summary>Null when the request is signed correctly; otherwise the 403 to answer.</summary>
    public S3Error? Verify(HttpContext context)
    {
        var request = context.Request;
        var query = request.Query;
        string credential, signedHeaders, signature, amzDate, payloadHash;
        TimeSpan? expires = null;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(Algorithm + " ", StringComparison.Ordinal))
        {
            var fields = ParseAuthorization(authorization[(Algorithm.Length + 1)..]);
            if (!fields.TryGetValue("Credential", out credential!) || !fields.TryGetValue("SignedHeaders", out signedHeaders!) || !fields.TryGetValue("Signature", out signature!))
            {
                return Denied("AuthorizationHeaderMalformed", "The Authorization header needs Credential, SignedHeaders and Signature.");
            }

            amzDate = request.Headers["x-amz-date"].ToString();
            if (amzDate.Length == 0 && DateTimeOffset.TryParse(request.Headers.Date.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            {
                amzDate = date.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            }

            payloadHash = request.Headers["x-amz-content-sha256"].ToString();
            if (payloadHash.Length == 0)
            {
                payloadHash = Convert.ToHexStringLower(SHA256.HashData([]));
            }
        }
        else if (query["X-Amz-Algorithm"] == Algorithm)
        {
            credential = query["X-Amz-Credential"].ToString();
            signedHeaders = query["X-Amz-SignedHeaders"].ToString();
            signature = query["X-Amz-Signature"].ToString();
            amzDate = query["X-Amz-Date"].ToString();
            payloadHash = query.TryGetValue("X-Amz-Content-Sha256", out var declared) ? declared.ToString() : "UNSIGNED-PAYLOAD";
            if (!int.TryParse(query["X-Amz-Expires"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > 604800)
            {
                return Denied("AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds from 1 to 604800.");
            }

            expires = TimeSpan.FromSeconds(seconds);
        }
        else
        {
            return Denied("AccessDenied", "The sidecar's S3 endpoint is strict: every request must be signed with AWS Signature Version 4 (Authorization: AWS4-HMAC-SHA256 … or a presigned URL) using the pod-local credentials (the file named by AWS_SHARED_CREDENTIALS_FILE in the app containers).");
        }

        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[4] != "aws4_request")
        {
            return Denied("AuthorizationHeaderMalformed", $"Credential '{credential}' is not <key>/<date>/<region>/<service>/aws4_request.");
        }

        var (accessKeyId, secretAccessKey) = _credentials.Value;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(scope[0]), Encoding.UTF8.GetBytes(accessKeyId)))
        {
            return Denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
        }

        if (!DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
        {
            return Denied("AccessDenied", "The request has no valid X-Amz-Date (yyyyMMddTHHmmssZ).");
        }

        var now = _time.GetUtcNow();
        if (expires is { } lifetime)
        {
            if (now > signedAt + lifetime)
            {
                return Denied("AccessDenied", $"Request has expired (signed {signedAt:O}, valid for {lifetime.TotalSeconds:0} s).");
            }

            if (signedAt - now > MaxSkew)
            {
                return Denied("RequestTimeTooSkewed", "The presigned URL is dated in the future beyond the allowed 15 minutes.");
            }
        }
        else if ((now - signedAt).Duration() > MaxSkew)
        {
            return Denied("RequestTimeTooSkewed", $"The difference between the request time ({signedAt:O}) and the server's time ({now:O}) is more than 15 minutes.");
        }

        var canonical = CanonicalRequest(context, signedHeaders, payloadHash, presigned: expires is not null);
        var credentialScope = $"{scope[1]}/{scope[2]}/{scope[3]}/aws4_request";
        var stringToSign = SigV4.StringToSign(amzDate, credentialScope, canonical);
        var key = SigV4.SigningKey(secretAccessKey, scope[1], scope[2], scope[3]);
        var expected = SigV4.Signature(key, stringToSign);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signature.ToLowerInvariant())))
        {
            return Denied("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
        }

        if (payloadHash.StartsWith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", StringComparison.Ordinal))
        {
            // The body's chunks continue the chain from this seed signature; UploadBody checks them as they stream.
            context.Items[ChunkSignatureChain.ItemKey] = new ChunkSignatureChain(key, amzDate, credentialScope, expected);
        }

        return null;
    }

    private static Dictionary<string, string> ParseAuthorization(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields[part[..equals]] = part[(equals + 1)..];
            }
        }

        return fields;
    }

    private static string CanonicalRequest(HttpContext context, string signedHeaders, string payloadHash, bool presigned)
    {
        var raw = SigV4.OriginForm(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "/");
        var question = raw.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? raw : raw[..question];
        var queryText = question < 0 ? "" : raw[(question + 1)..];

        var builder = new StringBuilder(512);
        builder.Append(context.Request.Method).Append('\n');
        SigV4.AppendCanonicalPath(builder, path);
        builder.Append('\n');
        SigV4.AppendCanonicalQuery(builder, queryText, presigned ? "X-Amz-Signature" : null);
        builder.Append('\n');
        foreach (var name in signedHeaders.Split(';'))
        {
            var value = name == "host" ? context.Request.Headers.Host.ToString() : string.Join(',', context.Request.Headers[name].ToArray());
            builder.Append(name).Append(':').Append(CollapseSpaces(value.Trim())).Append('\n');
        }

        builder.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHash);
        return builder.ToString();
    }

    private static string CollapseSpaces(string value)
    {
        if (!value.Contains("  ", StringComparison.Ordinal))
        {
            return value;
        }

        var builder = new StringBuilder(value.Length);
        var previousSpace = false;
        foreach (var c in value)
        {
            if (c == ' ' && previousSpace)
            {
                continue;
            }

            previousSpace = c == ' ';
            builder.Append(c);
        }

        return builder.ToString();
    }

    private static S3Error Denied(string code, string message) => new(403, code, message);
}
