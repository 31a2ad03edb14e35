using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.SourceChain;

/// <summary>
/// The source factory the sidecar serves through: the protocol source (with its resilience pipeline) wrapped in the
/// metadata cache, so HEAD and LIST are answered within the TTL and never revalidated for immutable datasets.
/// Registered as the <see cref="ISourceFactory"/>, so every path that builds datasets (start-up, live reload) gets it.
/// </summary>
internal sealed class MetadataCachingSourceFactory(ISourceFactory inner, CacheConfig cache, TimeProvider time) : ISourceFactory
{
    /// <summary>The whole served chain: protocol source, resilience pipeline, metadata cache.</summary>
    public static MetadataCachingSourceFactory ForServing(CacheConfig cache, TimeProvider time, ILoggerFactory loggerFactory) =>
        new(new SourceFactory(time, loggerFactory), cache, time);

    public IObjectSource Create(DatasetConfig dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return MetadataCachingObjectSource.For(inner.Create(dataset), dataset, cache, time);
    }
}
