using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class MetadataCachingSourceFactoryTests
{
    [Fact]
    public async Task Create_ImmutableDataset_HeadsAreAnsweredFromTheMetadataCache()
    {
        var remote = new CountingObjectSource();
        remote.Put("k", new byte[10]);
        var factory = new MetadataCachingSourceFactory(new FixedSourceFactory(remote), new CacheConfig(), TimeProvider.System);

        var source = factory.Create(new DatasetConfig { Name = "ds", Source = "local:///x", Immutable = true });
        await source.HeadAsync("k", default);
        await source.HeadAsync("k", default);

        Assert.IsType<MetadataCachingObjectSource>(source);
        Assert.Equal(1, remote.Heads);
    }

    private sealed class FixedSourceFactory(IObjectSource source) : ISourceFactory
    {
        public IObjectSource Create(DatasetConfig dataset) => source;
    }
}
