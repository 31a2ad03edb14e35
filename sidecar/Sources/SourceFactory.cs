using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Maps a dataset's source URI scheme to its source class, after merging the secret options (resolved from the
/// environment variables the injector wired to Kubernetes secrets) into the plain options, and wraps the source in
/// its own resilience pipeline (retries, timeouts, circuit breaker; options in <see cref="SourceResilienceOptions"/>).
/// Creating a source does no I/O: clients connect on first use, so start-up stays fast.
/// </summary>
internal sealed class SourceFactory : ISourceFactory
{
    private readonly Func<string, string?> environment;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    public SourceFactory(TimeProvider timeProvider, ILoggerFactory loggerFactory)
        : this(Environment.GetEnvironmentVariable, timeProvider, loggerFactory)
    {
    }

    /// <param name="environment">Looks up an environment variable (tests pass a dictionary).</param>
    public SourceFactory(Func<string, string?> environment, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        this.environment = environment;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Fluid.Serverless.Sidecar.Sources");
    }

    public IObjectSource Create(DatasetConfig dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var name = dataset.Name;
        if (string.IsNullOrWhiteSpace(dataset.Source))
        {
            throw new ArgumentException($"dataset '{name}': field 'source' is empty, expected a URI such as s3://bucket/prefix, http(s)://host/base/ or local:///path", nameof(dataset));
        }

        var options = new SourceOptions(name, MergeOptions(dataset));
        var location = SourceLocation.Parse(name, dataset.Source);
        var resilience = SourceResilienceOptions.From(options);
        IObjectSource source = location.Scheme switch
        {
            "local" => CreateLocal(name, location),
            "s3" => CreateS3(options, location),
            "http" or "https" => CreateHttp(options, dataset.Source),
            _ => throw new ArgumentException(
                $"dataset '{name}': field 'source' has unsupported scheme '{location.Scheme}' in '{dataset.Source}', expected one of {string.Join(", ", SourceLocation.SupportedSchemes)}",
                nameof(dataset)),
        };
        return new ResilientObjectSource(source, SourcePipelineFactory.Create(source.Identity, resilience, timeProvider, logger));
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

        var endpoint = options.GetString(S3OptionNames.Endpoint);
        if (endpoint is not null)
        {
            // "minio.example:9000" means https://minio.example:9000, as Fluid's runtimes read it.
            var withScheme = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "https://" + endpoint;
            if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw options.Invalid(S3OptionNames.Endpoint[0], endpoint, "an http(s) URL such as http://minio.storage:9000");
            }

            endpoint = withScheme.TrimEnd('/');
        }

        var settings = new S3ClientSettings(
            endpoint,
            options.GetString(S3OptionNames.Region) ?? "us-east-1",
            options.GetBool(S3OptionNames.PathStyle, defaultValue: endpoint is not null),
            ReadCredentials(options));
        return new S3ObjectSource(S3ClientPool.Shared, settings, location.Authority, location.Path.TrimStart('/'));
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

    private static S3Credentials ReadCredentials(SourceOptions options)
    {
        var anonymous = options.GetBool(S3OptionNames.Anonymous, defaultValue: false);
        var accessKeyId = options.GetString(S3OptionNames.AccessKeyId);
        var secretAccessKey = options.GetString(S3OptionNames.SecretAccessKey);
        if ((accessKeyId is null) != (secretAccessKey is null))
        {
            var missing = accessKeyId is null ? S3OptionNames.AccessKeyId[0] : S3OptionNames.SecretAccessKey[0];
            throw new ArgumentException($"dataset '{options.DatasetName}': option '{missing}' is missing; an access key id and a secret key come together");
        }

        return anonymous || accessKeyId is not null
            ? new S3Credentials(accessKeyId, secretAccessKey, options.GetString(S3OptionNames.SessionToken), anonymous)
            : S3Credentials.DefaultChain;
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
