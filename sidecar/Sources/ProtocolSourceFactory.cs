using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources.Credentials;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Maps a dataset's source URI scheme to its source class, after merging the secret options (resolved from the
/// environment variables the injector wired to Kubernetes secrets) into the plain options. The source it returns is
/// the bare protocol source; the wrappers in front of it are added by <c>SourceChain/SourceFactory</c>.
/// Creating a source does no I/O: clients connect on first use, so start-up stays fast.
/// </summary>
internal sealed class ProtocolSourceFactory(Func<string, string?> environment)
{
    /// <summary>The dataset's options, secrets resolved: what the protocol source and its wrappers are configured from.</summary>
    public SourceOptions Options(DatasetConfig dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return new SourceOptions(dataset.Name, MergeOptions(dataset), new HashSet<string>(dataset.SecretOptions.Keys, StringComparer.Ordinal));
    }

    /// <summary>The protocol source for <paramref name="dataset"/>, configured from <paramref name="options"/> (see <see cref="Options"/>).</summary>
    public static IObjectSource Create(DatasetConfig dataset, SourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        var name = dataset.Name;
        var location = SourceLocation.Parse(name, dataset.Source);
        return location.Scheme switch
        {
            "local" => CreateLocal(name, location),
            "nfs" => CreateNfs(options, location),
            "s3" => CreateS3(options, location),
            "oss" => CreateOss(options, location),
            "hdfs" or "webhdfs" or "swebhdfs" => CreateWebHdfs(options, location),
            "http" or "https" => CreateHttp(options, dataset.Source),
            _ => throw new ArgumentException(
                $"dataset '{name}': field 'source' has unsupported scheme '{location.Scheme}' in '{dataset.Source}', expected one of {string.Join(", ", SourceLocation.SupportedSchemes)}",
                nameof(dataset)),
        };
    }

    private static LocalObjectSource CreateLocal(string datasetName, SourceLocation location)
    {
        if (location.Authority.Length != 0 || !location.Path.StartsWith('/'))
        {
            throw new ArgumentException($"dataset '{datasetName}': field 'source' '{location.Original}' must be local:///absolute/path (three slashes, no host)");
        }

        return new LocalObjectSource(location.Path);
    }

    private static S3ObjectSource CreateS3(SourceOptions options, SourceLocation location)
    {
        if (location.Authority.Length == 0)
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': field 'source' '{location.Original}' names no bucket, expected s3://bucket[/prefix]");
        }

        var endpoint = options.GetString(S3OptionNames.Endpoint) is { } text ? ParseEndpoint(options, text, S3OptionNames.Endpoint[0]) : null;

        var settings = new S3ClientSettings(
            endpoint,
            options.GetString(S3OptionNames.Region) ?? "us-east-1",
            options.GetBool(S3OptionNames.PathStyle, defaultValue: endpoint is not null),
            ReadCredentials(options, S3OptionNames.AccessKeyId, S3OptionNames.SecretAccessKey, S3OptionNames.SessionToken,
                region => WebIdentityRole.FromAwsEnvironment(Environment.GetEnvironmentVariables(), region)));
        return new S3ObjectSource(S3ClientPool.Shared, settings, location.Authority, location.Path.TrimStart('/'));
    }

    /// <summary>
    /// Alibaba OSS through its S3-compatible API. OSS accepts only virtual-hosted addressing (bucket.endpoint), and
    /// signs SigV4 with the region id (cn-hangzhou), which is read from the endpoint when not given.
    /// </summary>
    private static S3ObjectSource CreateOss(SourceOptions options, SourceLocation location)
    {
        if (location.Authority.Length == 0)
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': field 'source' '{location.Original}' names no bucket, expected oss://bucket[/prefix]");
        }

        var endpointText = options.GetString(OssOptionNames.Endpoint)
            ?? throw new ArgumentException($"dataset '{options.DatasetName}': option '{OssOptionNames.Endpoint[0]}' is required for oss:// sources, e.g. https://oss-cn-hangzhou-internal.aliyuncs.com");
        var endpoint = ParseEndpoint(options, endpointText, OssOptionNames.Endpoint[0]);
        if (options.GetBool(S3OptionNames.PathStyle, defaultValue: false))
        {
            throw options.Invalid(S3OptionNames.PathStyle, "true", "false or unset: OSS accepts only virtual-hosted addressing (bucket.endpoint)");
        }

        var region = options.GetString(OssOptionNames.Region) ?? OssOptionNames.RegionFromEndpoint(new Uri(endpoint).Host)
            ?? throw new ArgumentException($"dataset '{options.DatasetName}': option '{OssOptionNames.Region[0]}' is required: the region cannot be read from endpoint '{endpointText}'");
        var settings = new S3ClientSettings(endpoint, region, PathStyle: false, ReadCredentials(options, OssOptionNames.AccessKeyId, OssOptionNames.SecretAccessKey, OssOptionNames.SessionToken,
            _ => WebIdentityRole.FromAlibabaEnvironment(Environment.GetEnvironmentVariables())));
        return new S3ObjectSource(S3ClientPool.Shared, settings, location.Authority, location.Path.TrimStart('/'), scheme: "oss");
    }

    /// <summary>
    /// HDFS over WebHDFS. The port of an hdfs:// URI is the namenode's RPC port, which WebHDFS does not use: the HTTP
    /// endpoint is option 'webhdfsEndpoint', else the URI's host on option 'webhdfsPort' (default 9870, Hadoop 3's
    /// namenode HTTP port). webhdfs:// and swebhdfs:// URIs carry the HTTP port themselves, as in Hadoop.
    /// </summary>
    private static WebHdfsObjectSource CreateWebHdfs(SourceOptions options, SourceLocation location)
    {
        string endpoint;
        if (options.GetString(WebHdfsOptionNames.Endpoint) is { } explicitEndpoint)
        {
            endpoint = ParseEndpoint(options, explicitEndpoint.Contains("://", StringComparison.Ordinal) ? explicitEndpoint : "http://" + explicitEndpoint, WebHdfsOptionNames.Endpoint);
        }
        else
        {
            if (location.Authority.Length == 0 || !Uri.TryCreate("http://" + location.Authority, UriKind.Absolute, out var authority))
            {
                throw new ArgumentException($"dataset '{options.DatasetName}': field 'source' '{location.Original}' names no namenode, expected {location.Scheme}://namenode[:port]/path");
            }

            var secure = location.Scheme == "swebhdfs";
            var port = location.Scheme == "hdfs" || authority.IsDefaultPort
                ? options.GetInt(WebHdfsOptionNames.Port, secure ? 9871 : 9870, 1, 65535)
                : authority.Port;
            endpoint = string.Create(CultureInfo.InvariantCulture, $"{(secure ? "https" : "http")}://{authority.Host}:{port}");
        }

        var user = options.GetString(WebHdfsOptionNames.User);
        var token = options.GetString(WebHdfsOptionNames.DelegationToken);
        return new WebHdfsObjectSource(HttpSourceClient.Shared, endpoint, location.Path, user, token);
    }

    /// <summary>"minio.example:9000" means https://minio.example:9000, as Fluid's runtimes read it.</summary>
    private static string ParseEndpoint(SourceOptions options, string endpoint, string optionName)
    {
        var withScheme = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "https://" + endpoint;
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
        {
            throw options.Invalid(optionName, endpoint, "an http(s) URL such as http://minio.storage:9000");
        }

        return withScheme.TrimEnd('/');
    }

    private static HttpObjectSource CreateHttp(SourceOptions options, string source)
    {
        if (!Uri.TryCreate(source, UriKind.Absolute, out var baseUri) || baseUri.Host.Length == 0 || !string.IsNullOrEmpty(baseUri.Query))
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': field 'source' '{source}' must be an http(s)://host/base/ URL without a query");
        }

        var listing = options.GetString(HttpOptionNames.Listing);
        if (listing is not null && !ObjectKeys.IsSafeRelativeKey(listing))
        {
            throw options.Invalid(HttpOptionNames.Listing, listing, "a key relative to the base URL, such as index.txt");
        }

        var files = options.GetString(HttpOptionNames.Files)?.Split([',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (files is not null && listing is not null)
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': options '{HttpOptionNames.Listing}' and '{HttpOptionNames.Files}' both name the file list; set one");
        }

        try
        {
            return new HttpObjectSource(HttpSourceClient.Shared, baseUri, listing, files, options.WithPrefix(HttpOptionNames.HeaderPrefix));
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': {e.Message}", e);
        }
    }

    /// <summary>Keys from the options; without them the pod's web-identity role (<paramref name="webIdentity"/>), if any.</summary>
    private static S3Credentials ReadCredentials(SourceOptions options, string[] accessKeyIdNames, string[] secretNames, string[] sessionTokenNames, Func<string?, WebIdentityRole?> webIdentity)
    {
        var anonymous = options.GetBool(S3OptionNames.Anonymous, defaultValue: false);
        var accessKeyId = options.GetString(accessKeyIdNames);
        var secretAccessKey = options.GetString(secretNames);
        if ((accessKeyId is null) != (secretAccessKey is null))
        {
            var missing = accessKeyId is null ? accessKeyIdNames[0] : secretNames[0];
            throw new ArgumentException($"dataset '{options.DatasetName}': option '{missing}' is missing; an access key id and a secret key come together");
        }

        return anonymous || accessKeyId is not null
            ? new S3Credentials(accessKeyId, secretAccessKey, options.GetString(sessionTokenNames), anonymous)
            : S3Credentials.DefaultChain with { WebIdentity = webIdentity(options.GetString(S3OptionNames.Region)) };
    }

    /// <summary>
    /// NAS, CPFS, GlusterFS or EFC exports: the injector mounts the export into the sidecar (in-tree nfs volume, no
    /// CSI) at <see cref="SidecarDefaults.NfsMountPath"/>, or where option 'localPath' says; the sidecar serves that
    /// directory as a local source. The identity stays the nfs:// URI, so the cache follows the export, not the mount.
    /// </summary>
    private static LocalObjectSource CreateNfs(SourceOptions options, SourceLocation location)
    {
        if (location.Authority.Length == 0 || !location.Path.StartsWith('/'))
        {
            throw new ArgumentException($"dataset '{options.DatasetName}': field 'source' '{location.Original}' must be nfs://server/export/path");
        }

        var mount = options.GetString(NfsOptionNames.LocalPath) ?? SidecarDefaults.NfsMountPath(options.DatasetName);
        if (!Path.IsPathFullyQualified(mount))
        {
            throw options.Invalid(NfsOptionNames.LocalPath, mount, "an absolute directory path in the sidecar");
        }

        if (!Directory.Exists(mount))
        {
            throw new ArgumentException(
                $"dataset '{options.DatasetName}': the NFS export {location.Original} is not mounted at {mount} in the sidecar; the injector mounts it when the pod is created (a dataset added by a live config change needs a new pod)");
        }

        return new LocalObjectSource(mount, identity: $"nfs://{location.Authority}{location.Path.TrimEnd('/')}/");
    }

    private Dictionary<string, string> MergeOptions(DatasetConfig dataset)
    {
        var merged = new Dictionary<string, string>(dataset.Options, StringComparer.Ordinal);
        foreach (var (option, variable) in dataset.SecretOptions)
        {
            if (string.IsNullOrWhiteSpace(variable))
            {
                throw new ArgumentException($"dataset '{dataset.Name}': field 'secretOptions' entry '{option}' names no environment variable", nameof(dataset));
            }

            var value = environment(variable);
            if (string.IsNullOrEmpty(value))
            {
                throw new ArgumentException(
                    $"dataset '{dataset.Name}': secret option '{option}' comes from environment variable '{variable}', which is not set (is the secret mounted into the sidecar?)",
                    nameof(dataset));
            }

            if (dataset.Options.ContainsKey(option))
            {
                throw new ArgumentException($"dataset '{dataset.Name}': option '{option}' is set both in 'options' and in 'secretOptions'; keep it in one", nameof(dataset));
            }

            merged[option] = value;
        }

        return merged;
    }
}
