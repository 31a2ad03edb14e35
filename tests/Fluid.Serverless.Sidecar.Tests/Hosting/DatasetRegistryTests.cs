using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>The registry as the hosting layer uses it: ConfigApplier builds, the registry publishes atomically.</summary>
public sealed class DatasetRegistryTests
{
    private static (DatasetRegistry Registry, ConfigApplier Applier) Create()
    {
        var registry = new DatasetRegistry(NullLogger<DatasetRegistry>.Instance);
        var applier = new ConfigApplier(new TestSourceFactory(), registry, null, TimeProvider.System, NullLogger<ConfigApplier>.Instance);
        return (registry, applier);
    }

    private static SidecarConfig Config(params DatasetConfig[] datasets) => new() { Datasets = datasets };

    [Fact]
    public void Apply_PublishesSnapshot_KeepsUnchangedDatasetsAndRaisesChanged()
    {
        var (registry, applier) = Create();
        DatasetSnapshot? seen = null;
        registry.Changed += snapshot => seen = snapshot;
        Assert.False(registry.HasPublished);

        applier.Apply(Config(new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "two", Source = "local:///b" }));
        var first = registry.Current;
        Assert.True(registry.HasPublished);
        Assert.Same(first, seen);
        Assert.Equal(1, first.Generation);

        applier.Apply(Config(new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "two", Source = "local:///c" }));
        var second = registry.Current;
        Assert.Equal(2, second.Generation);
        Assert.Same(first.Datasets["one"], second.Datasets["one"]);
        Assert.Equal("test-dir:///c", second.Datasets["two"].Source.Identity);

        // A request that took the first snapshot still sees the old source.
        Assert.Equal("test-dir:///b", first.Datasets["two"].Source.Identity);
    }

    [Fact]
    public void Apply_UnbuildableDataset_RejectsTheWholeConfigAndKeepsTheOld()
    {
        var (registry, applier) = Create();
        applier.Apply(Config(new DatasetConfig { Name = "one", Source = "local:///a" }));
        var before = registry.Current;

        var error = Assert.Throws<InvalidOperationException>(() =>
            applier.Apply(Config(new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "bad", Source = "gopher://x" })));

        Assert.Contains("'bad'", error.Message, StringComparison.Ordinal);
        Assert.Same(before, registry.Current);
    }
}
