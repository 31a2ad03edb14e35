using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Resilience;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.SourceChain;

/// <summary>
/// Builds a dataset's source chain: the protocol source (<see cref="ProtocolSourceFactory"/>) inside its own resilience
/// pipeline (retries, timeouts, circuit breaker; options in <see cref="SourceResilienceOptions"/>). The served chain
/// adds the metadata cache in front (<see cref="MetadataCachingSourceFactory"/>), and a bandwidth-capped prefetch
/// adds <see cref="ThrottledObjectSource"/> in front of that: every wrapper of a source lives in this folder.
/// Creating a source does no I/O: clients connect on first use, so start-up stays fast.
/// </summary>
internal sealed class SourceFactory : ISourceFactory
{
    private readonly ProtocolSourceFactory protocols;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    public SourceFactory(TimeProvider timeProvider, ILoggerFactory loggerFactory)
        : this(Environment.GetEnvironmentVariable, timeProvider, loggerFactory)
    {
    }

    /// <param name="environment">Looks up an environment variable (tests pass a dictionary).</param>
    public SourceFactory(Func<string, string?> environment, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        protocols = new ProtocolSourceFactory(environment);
        this.timeProvider = timeProvider ?? TimeProvider.System;
        logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Fluid.Serverless.Sidecar.Sources");
    }

    public IObjectSource Create(DatasetConfig dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (string.IsNullOrWhiteSpace(dataset.Source))
        {
            throw new ArgumentException($"dataset '{dataset.Name}': field 'source' is empty, expected a URI such as s3://bucket/prefix, http(s)://host/base/ or local:///path", nameof(dataset));
        }

        var options = protocols.Options(dataset);
        _ = SourceLocation.Parse(dataset.Name, dataset.Source);
        var resilience = SourceResilienceOptions.From(options);
        var source = ProtocolSourceFactory.Create(dataset, options);
        var resilient = new ResilientObjectSource(source, SourcePipelineFactory.Create(source.Identity, resilience, timeProvider, logger));
        if (dataset.Gateway is not { } gateway)
        {
            return resilient;
        }

        // the runtime's S3 gateway, with its own timeouts and breaker: while it is down, reads go to the source at once
        var gatewayDataset = new DatasetConfig { Name = dataset.Name, Source = gateway.Source, Options = gateway.Options };
        var gatewayOptions = protocols.Options(gatewayDataset);
        var gatewaySource = ProtocolSourceFactory.Create(gatewayDataset, gatewayOptions);
        var gatewayResilient = new ResilientObjectSource(gatewaySource,
            SourcePipelineFactory.Create(gatewaySource.Identity, SourceResilienceOptions.From(gatewayOptions), timeProvider, logger));
        return new GatewayFallbackSource(gatewayResilient, resilient);
    }
}
