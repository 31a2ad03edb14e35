using System.Globalization;
using System.Net;

namespace Fluid.Serverless.Contracts;

/// <summary>
/// Semantic checks of a <see cref="SidecarConfig"/>, shared by the injector (which denies a pod whose config would
/// not start) and the sidecar (which refuses to start, exit code 2). Every error names the JSON path of the field,
/// the bad value and what was expected, e.g.
/// <c>datasets[1].name: 'Bad_Name' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.'</c>.
/// </summary>
public static class SidecarConfigValidator
{
    /// <summary>
    /// URI schemes a dataset source may use: the one list both programs use (the injector denies any other scheme,
    /// the sidecar's source factory maps each of these to a class).
    /// </summary>
    public static readonly IReadOnlyList<string> SourceSchemes = ["s3", "oss", "http", "https", "hdfs", "webhdfs", "swebhdfs", "nfs", "local"];

    /// <summary>What a source URI looks like, for error messages.</summary>
    public const string SourceSchemesExpected =
        "s3://bucket/prefix, oss://bucket/prefix, http(s)://host/base/, hdfs://namenode[:port]/path, webhdfs://host:port/path, nfs://server/export/path or local:///path";

    public const int MinBlockSizeBytes = 64 * 1024;
    public const int MaxBlockSizeBytes = 64 * 1024 * 1024;
    public const int MaxPrefetchWorkers = 256;
    /// <summary>Longest span one ranged GET may fetch (the reader cuts spans at 1,024 blocks anyway).</summary>
    public const long MaxFetchSpanBytes = 4L * 1024 * 1024 * 1024;
    public const int MaxReadAheadStreams = 64;
    public const long MaxReadAheadBytes = 64L * 1024 * 1024 * 1024;

    /// <summary>All problems found, in field order; empty when the config is usable.</summary>
    public static IReadOnlyList<string> Validate(SidecarConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = new List<string>();

        if (config.Version != 1)
        {
            errors.Add(Invariant($"version: '{config.Version}' is not supported: expected 1"));
        }

        if (!DatasetModes.All.Contains(config.Mode))
        {
            errors.Add($"mode: '{config.Mode}' is not a valid mode: expected one of {string.Join(", ", DatasetModes.All)}");
        }

        ValidateEndpoint("s3", config.S3.Address, config.S3.Port, errors);
        ValidateEndpoint("admin", config.Admin.Address, config.Admin.Port, errors);
        if (config.S3.Port != 0 && config.S3.Port == config.Admin.Port)
        {
            errors.Add(Invariant($"admin.port: '{config.Admin.Port}' is the S3 port too: expected a different port"));
        }

        if (config.Admin.LocalPort is < 0 or > 65535)
        {
            errors.Add(Invariant($"admin.localPort: '{config.Admin.LocalPort}' is not a port: expected 0-65535"));
        }
        else if (config.Admin.LocalPort != 0 && (config.Admin.LocalPort == config.S3.Port || config.Admin.LocalPort == config.Admin.Port))
        {
            errors.Add(Invariant($"admin.localPort: '{config.Admin.LocalPort}' is also {(config.Admin.LocalPort == config.S3.Port ? "s3.port" : "admin.port")}: expected a port of its own"));
        }

        if (config.DropPrivileges is { } drop && (drop.Uid <= 0 || drop.Gid <= 0))
        {
            errors.Add(Invariant($"dropPrivileges: uid {drop.Uid}, gid {drop.Gid}: expected a non-root uid and gid (1 or more), e.g. {SidecarDefaults.UnprivilegedId}"));
        }

        if (config.Fuse?.WriteBack is { } writeBack)
        {
            if (writeBack.DelaySeconds is < 0 or > 3600)
            {
                errors.Add(Invariant($"fuse.writeBack.delaySeconds: '{writeBack.DelaySeconds}' is out of range: expected 0-3600"));
            }

            if (writeBack.MaxBacklogBytes < 0)
            {
                errors.Add(Invariant($"fuse.writeBack.maxBacklogBytes: '{writeBack.MaxBacklogBytes}' is negative: expected a byte count >= 0 (0 = every close waits for its upload)"));
            }
        }

        ValidateCache(config.Cache, errors);
        ValidatePrefetch(config.Prefetch, errors);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Datasets.Count; i++)
        {
            ValidateDataset(Invariant($"datasets[{i}]"), config.Datasets[i], seen, errors);
        }

        for (var i = 0; i < config.VirtualHostDomains.Count; i++)
        {
            var domain = config.VirtualHostDomains[i];
            if (string.IsNullOrWhiteSpace(domain) || domain.StartsWith('.') || domain.EndsWith('.') || domain.Contains(':', StringComparison.Ordinal))
            {
                errors.Add(Invariant($"virtualHostDomains[{i}]: '{domain}' is not a host name: expected e.g. 'localhost' or '127.0.0.1.nip.io'"));
            }
        }

        if (config.Upstream is { } upstream && !IsHttpUri(upstream.Endpoint))
        {
            errors.Add($"upstream.endpoint: '{upstream.Endpoint}' is not a URL: expected http(s)://host[:port]");
        }

        if (config.SharedCache is { } sharedCache)
        {
            ValidateSharedCache(sharedCache, errors);
        }

        if (config.Credentials is { GeneratedFile: { } generatedFile } generated)
        {
            if (!generatedFile.StartsWith('/') || generatedFile.EndsWith('/') || generatedFile.Split('/').Any(segment => segment is "." or ".."))
            {
                errors.Add($"credentials.generatedFile: '{generatedFile}' is not an absolute file path without '.' or '..' segments: expected e.g. {SidecarDefaults.GeneratedCredentialsFile}");
            }

            if (generated.AccessKeyId.Length > 0 || generated.SecretAccessKeyEnv.Length > 0)
            {
                errors.Add("credentials: generatedFile is set together with accessKeyId/secretAccessKeyEnv: expected either generated credentials (generatedFile) or given ones (accessKeyId and secretAccessKeyEnv)");
            }
        }
        else if (config.Credentials is { } credentials)
        {
            if (string.IsNullOrWhiteSpace(credentials.AccessKeyId))
            {
                errors.Add("credentials.accessKeyId: '' is empty: expected the pod-local access key id");
            }

            if (!IsEnvironmentVariableName(credentials.SecretAccessKeyEnv))
            {
                errors.Add($"credentials.secretAccessKeyEnv: '{credentials.SecretAccessKeyEnv}' is not an environment variable name: expected [A-Za-z_][A-Za-z0-9_]*");
            }
        }

        return errors;
    }

    /// <summary>
    /// S3 bucket naming rules that matter for a local endpoint: 3-63 characters of lowercase letters, digits,
    /// '-' and '.', starting and ending with a letter or digit, no "..", not shaped like an IPv4 address.
    /// </summary>
    public static bool IsValidBucketName(string? name)
    {
        if (name is null || name.Length is < 3 or > 63)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.'))
            {
                return false;
            }
        }

        return char.IsAsciiLetterOrDigit(name[0])
            && char.IsAsciiLetterOrDigit(name[^1])
            && !name.Contains("..", StringComparison.Ordinal)
            && !IPAddress.TryParse(name, out _);
    }

    private static void ValidateEndpoint(string field, string address, int port, List<string> errors)
    {
        if (!IPAddress.TryParse(address, out _))
        {
            errors.Add($"{field}.address: '{address}' is not an IP address: expected e.g. 127.0.0.1, 0.0.0.0 or ::1");
        }

        if (port is < 0 or > 65535)
        {
            errors.Add(Invariant($"{field}.port: '{port}' is not a port: expected 0-65535 (0 picks a free port)"));
        }
    }

    private static void ValidateCache(CacheConfig cache, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(cache.Directory) || !Path.IsPathRooted(cache.Directory))
        {
            errors.Add($"cache.directory: '{cache.Directory}' is not an absolute path: expected e.g. /var/cache/fluid-serverless");
        }

        if (cache.QuotaBytes <= 0)
        {
            errors.Add(Invariant($"cache.quotaBytes: '{cache.QuotaBytes}' is not positive: expected a byte count > 0"));
        }

        if (cache.BlockSizeBytes is < MinBlockSizeBytes or > MaxBlockSizeBytes)
        {
            errors.Add(Invariant($"cache.blockSizeBytes: '{cache.BlockSizeBytes}' is out of range: expected {MinBlockSizeBytes}-{MaxBlockSizeBytes}"));
        }

        if (cache.MinFreeBytes < 0)
        {
            errors.Add(Invariant($"cache.minFreeBytes: '{cache.MinFreeBytes}' is negative: expected a byte count >= 0"));
        }

        if (cache.StagingBytes < 0)
        {
            errors.Add(Invariant($"cache.stagingBytes: '{cache.StagingBytes}' is negative: expected a byte count >= 0"));
        }

        if (cache.ReadAheadMemoryBytes < 0)
        {
            errors.Add(Invariant($"cache.readAheadMemoryBytes: '{cache.ReadAheadMemoryBytes}' is negative: expected a byte count >= 0"));
        }

        if (cache.FetchSpanBytes is { } span && (span < cache.BlockSizeBytes || span > MaxFetchSpanBytes))
        {
            errors.Add(Invariant($"cache.fetchSpanBytes: '{span}' is out of range: expected cache.blockSizeBytes ({cache.BlockSizeBytes}) to {MaxFetchSpanBytes}"));
        }

        if (cache.ReadAheadMaxBytes is { } readAheadMax && (readAheadMax < cache.BlockSizeBytes || readAheadMax > MaxReadAheadBytes))
        {
            errors.Add(Invariant($"cache.readAheadMaxBytes: '{readAheadMax}' is out of range: expected cache.blockSizeBytes ({cache.BlockSizeBytes}) to {MaxReadAheadBytes}"));
        }

        if (cache.ReadAheadStreams is { } streams && streams is < 1 or > MaxReadAheadStreams)
        {
            errors.Add(Invariant($"cache.readAheadStreams: '{streams}' is out of range: expected 1-{MaxReadAheadStreams}"));
        }

        if (cache.MetadataTtlSeconds < 0)
        {
            errors.Add(Invariant($"cache.metadataTtlSeconds: '{cache.MetadataTtlSeconds}' is negative: expected seconds >= 0"));
        }

        if (cache.Medium is not ("disk" or "memory"))
        {
            errors.Add($"cache.medium: '{cache.Medium}' is not a medium: expected disk or memory");
        }
    }

    private static void ValidatePrefetch(PrefetchConfig prefetch, List<string> errors)
    {
        if (prefetch.Workers is < 1 or > MaxPrefetchWorkers)
        {
            errors.Add(Invariant($"prefetch.workers: '{prefetch.Workers}' is out of range: expected 1-{MaxPrefetchWorkers}"));
        }

        if (prefetch.BandwidthBytesPerSecond < 0)
        {
            errors.Add(Invariant($"prefetch.bandwidthBytesPerSecond: '{prefetch.BandwidthBytesPerSecond}' is negative: expected bytes/s >= 0 (0 = unlimited)"));
        }
    }

    private static void ValidateDataset(string field, DatasetConfig dataset, HashSet<string> seen, List<string> errors)
    {
        if (dataset.Gateway is { } gateway)
        {
            if (!Uri.TryCreate(gateway.Source, UriKind.Absolute, out var gatewaySource) || gatewaySource.Scheme != "s3" || gatewaySource.Host.Length == 0)
            {
                errors.Add($"{field}.gateway.source: '{gateway.Source}' is not an S3 URI: expected s3://bucket/prefix");
            }

            if (!gateway.Options.TryGetValue("endpoint", out var gatewayEndpoint) || !IsHttpUri(gatewayEndpoint))
            {
                errors.Add($"{field}.gateway.options.endpoint: '{gatewayEndpoint}' is not a URL: expected http(s)://host[:port][/path] of the runtime's S3 gateway");
            }

            if (!dataset.ReadOnly)
            {
                errors.Add($"{field}.gateway: a writable dataset cannot read through a gateway: expected readOnly true or no gateway");
            }
        }

        if (!IsValidBucketName(dataset.Name))
        {
            errors.Add($"{field}.name: '{dataset.Name}' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.'");
        }
        else if (!seen.Add(dataset.Name))
        {
            errors.Add($"{field}.name: '{dataset.Name}' is used by another dataset: expected unique names");
        }

        if (!Uri.TryCreate(dataset.Source, UriKind.Absolute, out var source) || !SourceSchemes.Contains(source.Scheme))
        {
            errors.Add($"{field}.source: '{dataset.Source}' is not a source URI: expected {SourceSchemesExpected}");
        }
        else if (source.Scheme == "local" && !dataset.Source.StartsWith("local:///", StringComparison.Ordinal))
        {
            errors.Add($"{field}.source: '{dataset.Source}' is not a local path URI: expected local:///absolute/path");
        }
        else if (source.Scheme == "local" && dataset.Source["local://".Length..].Split('/').Any(segment => segment is "." or ".."))
        {
            errors.Add($"{field}.source: '{dataset.Source}' has '.' or '..' segments: expected local:///absolute/path");
        }
        else if (source.Scheme == "local" && dataset.Options.TryGetValue("hostPath", out var hostPath) && !hostPath.StartsWith('/'))
        {
            errors.Add($"{field}.options.hostPath: '{hostPath}' is not an absolute node path: expected e.g. /mnt/lustre");
        }
        else if (source.Scheme == "nfs" && (source.Host.Length == 0 || source.AbsolutePath.Length <= 1))
        {
            errors.Add($"{field}.source: '{dataset.Source}' is not an NFS export URI: expected nfs://server/export/path");
        }
        else if (source.Scheme == "nfs" && !source.IsDefaultPort)
        {
            // the export is mounted by kubelet through an in-tree nfs volume, which has no port field
            errors.Add($"{field}.source: '{dataset.Source}' names a port: expected nfs://server/export/path (Kubernetes nfs volumes use the standard NFS port)");
        }
        else if (source.Scheme == "nfs" && dataset.Options.TryGetValue("localPath", out var localPath)
            && (!localPath.StartsWith('/') || localPath.Split('/').Any(segment => segment is "." or "..")))
        {
            errors.Add($"{field}.options.localPath: '{localPath}' is not an absolute path without '.' or '..' segments: expected e.g. /mnt/{dataset.Name}");
        }
        else if (source.Scheme is "s3" or "oss" or "hdfs" or "webhdfs" or "swebhdfs" && source.Host.Length == 0)
        {
            errors.Add($"{field}.source: '{dataset.Source}' names no {(source.Scheme is "s3" or "oss" ? "bucket" : "namenode")}: expected {source.Scheme}://{(source.Scheme is "s3" or "oss" ? "bucket/prefix" : "namenode[:port]/path")}");
        }

        if (dataset.MountPath is { } mountPath
            && (!mountPath.StartsWith('/') || mountPath.Split('/').Any(segment => segment is "." or "..")))
        {
            errors.Add($"{field}.mountPath: '{mountPath}' is not an absolute path without '.' or '..' segments: expected e.g. /data/{dataset.Name}");
        }

        foreach (var (option, envName) in dataset.SecretOptions)
        {
            if (!IsEnvironmentVariableName(envName))
            {
                errors.Add($"{field}.secretOptions.{option}: '{envName}' is not an environment variable name: expected [A-Za-z_][A-Za-z0-9_]*");
            }
        }

        for (var i = 0; i < dataset.Prefetch.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(dataset.Prefetch[i]))
            {
                errors.Add(Invariant($"{field}.prefetch[{i}]: '{dataset.Prefetch[i]}' is empty: expected a path, glob or @manifest-key"));
            }
        }
    }

    private static void ValidateSharedCache(SharedCacheConfig tier, List<string> errors)
    {
        if (!SharedCacheEngines.All.Contains(tier.Engine))
        {
            errors.Add($"sharedCache.engine: '{tier.Engine}' is not an engine: expected one of {string.Join(", ", SharedCacheEngines.All)}");
        }
        else if (tier.Engine == SharedCacheEngines.Redis)
        {
            if (tier.Endpoints.Count == 0)
            {
                errors.Add("sharedCache.endpoints: [] is empty: expected at least one host:port of the Redis-protocol engine");
            }

            for (var i = 0; i < tier.Endpoints.Count; i++)
            {
                if (!IsHostPort(tier.Endpoints[i]))
                {
                    errors.Add(Invariant($"sharedCache.endpoints[{i}]: '{tier.Endpoints[i]}' is not host:port: expected e.g. redis-0.redis:6379"));
                }
            }
        }
        else
        {
            if (!IsValidBucketName(tier.Bucket))
            {
                errors.Add($"sharedCache.bucket: '{tier.Bucket}' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.' (S3 Express names end in --x-s3)");
            }

            if (tier.Endpoint is { } endpoint && !IsHttpUri(endpoint))
            {
                errors.Add($"sharedCache.endpoint: '{endpoint}' is not a URL: expected http(s)://host[:port]");
            }

            if ((tier.AccessKeyIdEnv is null) != (tier.SecretAccessKeyEnv is null))
            {
                errors.Add("sharedCache.accessKeyIdEnv: set together with sharedCache.secretAccessKeyEnv: expected both or neither (neither = the SDK's default chain)");
            }
        }

        foreach (var (field, value) in new[]
        {
            ("userEnv", tier.UserEnv), ("passwordEnv", tier.PasswordEnv), ("accessKeyIdEnv", tier.AccessKeyIdEnv), ("secretAccessKeyEnv", tier.SecretAccessKeyEnv),
        })
        {
            if (value is not null && !IsEnvironmentVariableName(value))
            {
                errors.Add($"sharedCache.{field}: '{value}' is not an environment variable name: expected [A-Za-z_][A-Za-z0-9_]* (the name of the variable, never the secret)");
            }
        }

        if (string.IsNullOrEmpty(tier.Prefix) || tier.Prefix.Length > 256 || tier.Prefix.Any(c => char.IsControl(c) || c == ' '))
        {
            errors.Add($"sharedCache.prefix: '{tier.Prefix}' is not a key prefix: expected 1-256 characters without spaces or control characters, e.g. fluid/");
        }

        if (tier.TimeoutMilliseconds is < 1 or > 60_000)
        {
            errors.Add(Invariant($"sharedCache.timeoutMilliseconds: '{tier.TimeoutMilliseconds}' is out of range: expected 1-60000"));
        }

        if (tier.LeaseMilliseconds is < 1 or > 600_000)
        {
            errors.Add(Invariant($"sharedCache.leaseMilliseconds: '{tier.LeaseMilliseconds}' is out of range: expected 1-600000"));
        }

        if (tier.MaxPendingWrites is < 0 or > 4096)
        {
            errors.Add(Invariant($"sharedCache.maxPendingWrites: '{tier.MaxPendingWrites}' is out of range: expected 0-4096 (0 = never write to the tier)"));
        }
    }

    private static bool IsHostPort(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var colon = value.LastIndexOf(':');
        return colon > 0
            && int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is > 0 and <= 65535
            && Uri.CheckHostName(value[..colon].Trim('[', ']')) != UriHostNameType.Unknown;
    }

    private static bool IsHttpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    private static bool IsEnvironmentVariableName(string? name) =>
        !string.IsNullOrEmpty(name)
        && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
