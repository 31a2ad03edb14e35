using System.Text.Json.Serialization;

namespace Fluid.Serverless.Contracts;

/// <summary>
/// The sidecar's whole configuration: what the injector writes into the serverless.fluid.io/sidecar-config
/// annotation and the sidecar reads (and reloads live) from a file. Never holds secret values:
/// secrets arrive as env vars named in <see cref="DatasetConfig.SecretOptions"/>.
/// </summary>
/// <remarks>
/// Properties here are <c>set</c>, not <c>init</c>: System.Text.Json's source generator builds init-only
/// properties through an object initializer that assigns every one of them, so a property absent from the JSON
/// would get default(T) (null) instead of its initializer, and a partial config file would lose every default.
/// </remarks>
public sealed record SidecarConfig
{
    public int Version { get; set; } = 1;

    /// <summary>fuse, copy, s3 or auto (FUSE where /dev/fuse is usable, else copy).</summary>
    public string Mode { get; set; } = DatasetModes.S3;

    public EndpointConfig S3 { get; set; } = new();
    public AdminEndpointConfig Admin { get; set; } = new();
    public CacheConfig Cache { get; set; } = new();
    public PrefetchConfig Prefetch { get; set; } = new();
    public IReadOnlyList<DatasetConfig> Datasets { get; set; } = [];

    /// <summary>
    /// Host names under which the S3 endpoint answers virtual-host style requests: for a request to
    /// <c>{bucket}.{domain}[:port]</c> the bucket is everything before <c>.{domain}</c>. Any other host (an IP
    /// literal, <c>localhost</c> itself, a pod name) is path-style. Add e.g. "127.0.0.1.nip.io" when clients use it.
    /// </summary>
    public IReadOnlyList<string> VirtualHostDomains { get; set; } = ["localhost"];

    /// <summary>Optional: an upstream S3 endpoint for buckets that are not datasets (passthrough).</summary>
    public UpstreamConfig? Upstream { get; set; }

    /// <summary>Optional: pod-local credentials; when set, every S3 request must be SigV4-signed with them.
    /// The secret itself comes from the env var named in <see cref="PodCredentialsConfig.SecretAccessKeyEnv"/>.</summary>
    public PodCredentialsConfig? Credentials { get; set; }

    /// <summary>
    /// Optional: a shared block tier (Fluid's Runtime) behind the local block cache, shared by every pod that names the
    /// same engine: a Redis-protocol cluster or an S3-compatible bucket. Null = no tier.
    /// </summary>
    public SharedCacheConfig? SharedCache { get; set; }

    /// <summary>
    /// Optional, FUSE mode: once every FUSE mount is up, the process switches to this uid/gid with no supplementary
    /// groups and no capabilities (serving /dev/fuse needs none). Null (the default) keeps the privileges. Later
    /// mounts and the unmount at shutdown go through a root mount-helper child started before the switch.
    /// </summary>
    public DropPrivilegesConfig? DropPrivileges { get; set; }
}

public sealed record DropPrivilegesConfig
{
    public int Uid { get; set; } = SidecarDefaults.UnprivilegedId;
    public int Gid { get; set; } = SidecarDefaults.UnprivilegedId;
}

public static class DatasetModes
{
    public const string Fuse = "fuse";
    public const string Copy = "copy";
    public const string S3 = "s3";
    public const string Auto = "auto";
    public static readonly IReadOnlyList<string> All = [Auto, Fuse, Copy, S3];
}

public sealed record EndpointConfig
{
    public string Address { get; set; } = SidecarDefaults.S3Address;
    public int Port { get; set; } = SidecarDefaults.S3Port;
}

/// <summary>
/// The admin API on two listeners. <see cref="Address"/>:<see cref="Port"/> (the pod IP) serves only the read-only
/// probe and scrape endpoints (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c>), so kubelet and Prometheus reach
/// them. 127.0.0.1:<see cref="LocalPort"/> serves everything else (<c>/status</c>, <c>/prefetch…</c>,
/// <c>/quitquitquit</c>): only processes in the pod can reach it. Its address is not configurable on purpose.
/// </summary>
public sealed record AdminEndpointConfig
{
    public string Address { get; set; } = SidecarDefaults.AdminAddress;
    public int Port { get; set; } = SidecarDefaults.AdminPort;

    /// <summary>The loopback-only admin port; 0 = any free port (tests).</summary>
    public int LocalPort { get; set; } = SidecarDefaults.AdminLocalPort;
}

public sealed record CacheConfig
{
    /// <summary>Block directory; survives restarts (the cache is not wiped on start).</summary>
    public string Directory { get; set; } = "/var/cache/fluid-serverless";
    public long QuotaBytes { get; set; } = SidecarDefaults.CacheQuotaBytes;
    public int BlockSizeBytes { get; set; } = SidecarDefaults.BlockSizeBytes;
    /// <summary>Free space the cache always leaves on its disk (the node's disk: an emptyDir's sizeLimit is not visible here).</summary>
    public long MinFreeBytes { get; set; } = SidecarDefaults.MinFreeBytes;
    /// <summary>
    /// Most bytes upload staging (<c>&lt;directory&gt;/uploads</c>) may hold; a part that does not fit is refused
    /// (503 SlowDown, or 400 EntityTooLarge when it is larger than all of it). Outside <see cref="QuotaBytes"/>: the
    /// injector sizes the volume for both (<see cref="SidecarDefaults.CacheVolumeSizeBytes"/>). Null (the injector
    /// does not write it) = <see cref="SidecarDefaults.UploadStagingBytes"/>.
    /// </summary>
    public long? StagingBytes { get; set; }
    /// <summary>Global memory budget for read-ahead buffers.</summary>
    public long ReadAheadMemoryBytes { get; set; } = SidecarDefaults.ReadAheadMemoryBytes;
    /// <summary>
    /// Largest byte range one remote request fetches for a run of adjacent missing blocks (read-ahead, sequential
    /// GETs, prefetch): fewer, longer ranged GETs for stores with a per-request cost; the block size = one request
    /// per block. Null (the injector does not write it) = <see cref="SidecarDefaults.FetchSpanBytes"/>.
    /// </summary>
    public long? FetchSpanBytes { get; set; }
    /// <summary>
    /// Parallel ranged GETs (streams) one sequential reader keeps in flight; each holds one block of
    /// <see cref="ReadAheadMemoryBytes"/> while it runs. More for a remote with slow streams and a fast network (S3 from
    /// far away), fewer for one that charges per request. Null (the injector does not write it) =
    /// <see cref="SidecarDefaults.ReadAheadStreams"/>.
    /// </summary>
    public int? ReadAheadStreams { get; set; }
    public int MetadataTtlSeconds { get; set; } = SidecarDefaults.MetadataTtlSeconds;
    /// <summary>memory or disk (informational for the injector's emptyDir medium).</summary>
    public string Medium { get; set; } = "disk";
}

public sealed record PrefetchConfig
{
    public int Workers { get; set; } = SidecarDefaults.PrefetchWorkers;
    /// <summary>0 = unlimited.</summary>
    public long BandwidthBytesPerSecond { get; set; }
    /// <summary>When true, /readyz waits until the prefetch completes.</summary>
    public bool WaitForReady { get; set; }
}

public sealed record DatasetConfig
{
    /// <summary>The bucket name on the S3 endpoint; must be a valid S3 bucket name.</summary>
    public string Name { get; set; } = "";

    /// <summary>A URI with one of <see cref="SidecarConfigValidator.SourceSchemes"/>: s3://bucket/prefix, oss://bucket/prefix, http(s)://host/base/, hdfs://namenode/path, nfs://server/export/path, local:///path.</summary>
    public string Source { get; set; } = "";

    /// <summary>Non-secret source options (endpoint, region, pathStyle, listing file…).</summary>
    public IReadOnlyDictionary<string, string> Options { get; set; } = new Dictionary<string, string>();

    /// <summary>Option name → env var name holding its secret value (injected from secretKeyRef).</summary>
    public IReadOnlyDictionary<string, string> SecretOptions { get; set; } = new Dictionary<string, string>();

    /// <summary>Where the dataset appears on the shared volume (fuse/copy modes); null = S3 only.</summary>
    public string? MountPath { get; set; }

    public bool ReadOnly { get; set; } = true;

    /// <summary>Immutable datasets never revalidate metadata and keep the kernel page cache.</summary>
    public bool Immutable { get; set; }

    /// <summary>Paths, globs (train/**/*.jpg) or "@manifest-key" entries to warm up.</summary>
    public IReadOnlyList<string> Prefetch { get; set; } = [];

    /// <summary>
    /// Optional: the S3 gateway of the Fluid runtime (e.g. Alluxio's proxy) that caches <see cref="Source"/>. Reads
    /// go through it first and fall back to <see cref="Source"/> (with its options and secrets) when it is
    /// unavailable; writes and a sidecar that ignores this field use <see cref="Source"/> only. Read-only datasets only.
    /// </summary>
    public DatasetGatewayConfig? Gateway { get; set; }
}

/// <summary>An S3 view of a dataset served by a Fluid runtime: same objects, same keys, under another S3 URI.</summary>
public sealed record DatasetGatewayConfig
{
    /// <summary>s3://bucket/prefix on the gateway: the object key k of the dataset is prefix + k there, as in Source.</summary>
    public string Source { get; set; } = "";

    /// <summary>S3 options of the gateway (endpoint with its path, e.g. http://host:39999/api/v1/s3; pathStyle; region;
    /// anonymous). Never secrets.</summary>
    public IReadOnlyDictionary<string, string> Options { get; set; } = new Dictionary<string, string>();

    /// <summary>Which runtime serves it (namespace/name, type), for /status and logs.</summary>
    public string Runtime { get; set; } = "";
}

public sealed record UpstreamConfig
{
    public string Endpoint { get; set; } = "";
    public string Region { get; set; } = "us-east-1";
    public string? AccessKeyIdEnv { get; set; }
    public string? SecretAccessKeyEnv { get; set; }

    /// <summary>Timeouts and circuit breaker, with the option names and defaults of a dataset's source (attemptTimeoutSeconds, breaker*).</summary>
    public IReadOnlyDictionary<string, string> Options { get; set; } = new Dictionary<string, string>();
}

/// <summary>
/// The shared block tier. Secrets are never here: only the names of the env vars that hold them. The sidecar reads this
/// section at start (a change takes effect on the next start).
/// </summary>
public sealed record SharedCacheConfig
{
    /// <summary>redis (Redis Cluster or standalone, Valkey, Garnet, Tair, ElastiCache) or s3 (an S3-compatible bucket).</summary>
    public string Engine { get; set; } = SharedCacheEngines.Redis;

    /// <summary>redis: seed nodes as host:port; the client discovers the rest of a cluster from them.</summary>
    public IReadOnlyList<string> Endpoints { get; set; } = [];

    /// <summary>s3: the endpoint URL (http(s)://host[:port]); null = AWS S3 in <see cref="Region"/>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>s3: the bucket that holds the blocks.</summary>
    public string? Bucket { get; set; }

    /// <summary>s3: the signing region.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Key prefix of every block and lease in the engine; lets several clusters share one engine.</summary>
    public string Prefix { get; set; } = "fluid/";

    /// <summary>redis: name of the env var holding the user name (Redis 6 ACL); null = default user.</summary>
    public string? UserEnv { get; set; }

    /// <summary>redis: name of the env var holding the password; null = no AUTH.</summary>
    public string? PasswordEnv { get; set; }

    /// <summary>redis: TLS to the engine (ElastiCache in-transit encryption, Tair TLS).</summary>
    public bool Tls { get; set; }

    /// <summary>s3: names of the env vars holding the credentials; null = the SDK's default chain.</summary>
    public string? AccessKeyIdEnv { get; set; }
    public string? SecretAccessKeyEnv { get; set; }

    /// <summary>Longest one tier call may take before it counts as a miss (and a failure for the breaker).</summary>
    public int TimeoutMilliseconds { get; set; } = SidecarDefaults.SharedCacheTimeoutMilliseconds;

    /// <summary>How long a fill lease lasts: the longest another pod waits for the holder before it fetches itself.</summary>
    public int LeaseMilliseconds { get; set; } = SidecarDefaults.SharedCacheLeaseMilliseconds;

    /// <summary>Blocks queued for writing to the tier; more are dropped (and counted), never waited for.</summary>
    public int MaxPendingWrites { get; set; } = SidecarDefaults.SharedCacheMaxPendingWrites;
}

public static class SharedCacheEngines
{
    public const string Redis = "redis";
    public const string S3 = "s3";
    public static readonly IReadOnlyList<string> All = [Redis, S3];
}

public sealed record PodCredentialsConfig
{
    public string AccessKeyId { get; set; } = "";
    public string SecretAccessKeyEnv { get; set; } = "";
}

/// <summary>
/// Source-generated JSON (Native-AOT clean): camelCase, as written in the annotation.
/// The config records use <c>set</c>, not <c>init</c>, on purpose: for init-only properties the source generator
/// builds the object with an initializer that assigns every property, so a member missing from the JSON became
/// null/0 instead of keeping its default (e.g. a config without "admin" had no admin endpoint). Treat the
/// objects as immutable after loading all the same.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(SidecarConfig))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
