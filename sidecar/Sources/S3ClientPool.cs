using System.Collections.Concurrent;
using Amazon.Runtime;
using Amazon.S3;
using Fluid.Serverless.Sidecar.Sources.Credentials;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// One <see cref="AmazonS3Client"/> per (endpoint, region, addressing, credentials), shared by every dataset that
/// uses them, created on first use. Sharing keeps one connection pool per remote; creating lazily keeps sidecar
/// start-up fast (building a client and resolving credentials costs tens of milliseconds, paid only when a dataset is
/// first read). Clients live as long as the process: there are only a handful and they hold no per-dataset state.
/// </summary>
internal sealed class S3ClientPool
{
    public static readonly S3ClientPool Shared = new();

    /// <summary>
    /// For STS exchanges (IRSA, RRSA): a few small calls an hour, bounded so a dead STS fails fast. Made on first use,
    /// so a sidecar without a role pays nothing for it at start.
    /// </summary>
    private static readonly Lazy<HttpClient> StsClient = new(() => new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = TimeSpan.FromSeconds(15),
    });

    /// <summary>The SDK's copy buffer for request bodies (one send per this many bytes).</summary>
    internal const int RequestBodyCopyBytes = 128 * 1024;

    private readonly ConcurrentDictionary<S3ClientSettings, Lazy<AmazonS3Client>> clients = new();

    public AmazonS3Client Get(S3ClientSettings settings) =>
        clients.GetOrAdd(settings, static s => new Lazy<AmazonS3Client>(() => Create(s), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private static AmazonS3Client Create(S3ClientSettings settings)
    {
        Writes.PrecomputedPayloadHash.Register();
        var config = new AmazonS3Config
        {
            ForcePathStyle = settings.PathStyle,
            // Polly owns retries and timeouts (one policy for every source); the SDK's own retries would multiply them.
            MaxErrorRetry = 0,
            HttpClientFactory = S3HttpClientFactory.Instance,
            // What a request body is copied to the socket with: the SDK's 8 KiB made an upload of 256 MiB 32,768
            // sends, and system calls are what costs on a virtual machine (bench/writes/README.md).
            BufferSize = RequestBodyCopyBytes,
        };

        if (settings.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = settings.Region;

            // S3-compatible stores (MinIO, OSS, Ceph, s3rver, older gateways) reject or mangle the CRC trailers the
            // SDK sends by default since 2025; checksums only where the API requires them.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(settings.Region);
        }

        return settings.Credentials switch
        {
            { Anonymous: true } => new AmazonS3Client(new AnonymousAWSCredentials(), config),
            { AccessKeyId: { } id, SecretAccessKey: { } secret, SessionToken: { } token } => new AmazonS3Client(new SessionAWSCredentials(id, secret, token), config),
            { AccessKeyId: { } id, SecretAccessKey: { } secret } => new AmazonS3Client(new BasicAWSCredentials(id, secret), config),
            // The pod's service-account token exchanged at the role's STS (IRSA: AWS, RRSA: Alibaba Cloud), refreshed
            // before expiry; OSS takes the Alibaba STS credentials on its S3-compatible API.
            { WebIdentity: { } role } => new AmazonS3Client(new WebIdentityCredentials(role, CreateExchange(role), TimeProvider.System), config),
            // Environment, shared credentials/config files, container and instance roles.
            _ => new AmazonS3Client(config),
        };
    }

    private static IStsTokenExchange CreateExchange(WebIdentityRole role) => role.Kind == WebIdentityKind.AwsIrsa
        ? new AwsWebIdentityExchange(StsClient.Value, role)
        : new AlibabaOidcExchange(StsClient.Value, role);
}

/// <summary>What makes two datasets able to share one S3 client.</summary>
internal sealed record S3ClientSettings(string? Endpoint, string Region, bool PathStyle, S3Credentials Credentials);

/// <summary>
/// Explicit credentials from the dataset's (secret) options; else a web-identity role from the pod's environment; all
/// null = the SDK's default chain.
/// </summary>
internal sealed record S3Credentials(string? AccessKeyId, string? SecretAccessKey, string? SessionToken, bool Anonymous)
{
    public static readonly S3Credentials DefaultChain = new(null, null, null, false);

    /// <summary>The role to assume with the pod's service-account token (IRSA or RRSA), when no keys are given.</summary>
    public WebIdentityRole? WebIdentity { get; init; }

    // Never print the secret (records print every member by default).
    public override string ToString() => Anonymous ? "anonymous" : AccessKeyId is not null ? $"access key {AccessKeyId}" : WebIdentity?.ToString() ?? "default chain";
}
