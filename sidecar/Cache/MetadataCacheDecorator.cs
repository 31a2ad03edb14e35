using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>Puts every dataset's source behind the metadata cache (<see cref="CachingObjectSource"/>).</summary>
internal sealed class MetadataCacheDecorator(CacheConfig cache, TimeProvider timeProvider) : ISourceDecorator
{
    public IObjectSource Decorate(DatasetConfig dataset, IObjectSource source) =>
        CachingObjectSource.For(source, dataset, cache, timeProvider);
}
