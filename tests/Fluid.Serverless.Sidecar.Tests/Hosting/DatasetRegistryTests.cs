using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

public sealed class DatasetRegistryTests
{
    private static DatasetRegistry Create() => new(new TestSourceFactory(), NullLogger<DatasetRegistry>.Instance);

    [Fact]
    public void Apply_SwapsSnapshot_KeepsUnchangedDatasetsAndRaisesChanged()
    {
        var registry = Create();
        DatasetSnapshot? seen = null;
        registry.Changed += snapshot => seen = snapshot;

        Assert.Empty(registry.Apply([new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "two", Source = "local:///b" }]));
        var first = registry.Current;
        Assert.Same(first, seen);
        Assert.Equal(1, first.Generation);

        Assert.Empty(registry.Apply([new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "two", Source = "local:///c" }]));
        var second = registry.Current;
        Assert.Equal(2, second.Generation);
        Assert.True(second.TryGet("one", out var one));
        Assert.Same(first.Datasets["one"], one);
        Assert.NotSame(first.Datasets["two"], second.Datasets["two"]);
        Assert.Equal("test-dir:///c", second.Datasets["two"].Source.Identity);

        // A request that took the first snapshot still sees the old source.
        Assert.Equal("test-dir:///b", first.Datasets["two"].Source.Identity);
    }

    [Fact]
    public void Apply_UnbuildableDataset_RejectsTheWholeConfigAndKeepsTheOld()
    {
        var registry = Create();
        registry.Apply([new DatasetConfig { Name = "one", Source = "local:///a" }]);
        var before = registry.Current;

        var errors = registry.Apply([new DatasetConfig { Name = "one", Source = "local:///a" }, new DatasetConfig { Name = "bad", Source = "gopher://x" }]);

        Assert.Equal("datasets[1] ('bad'): source: 'gopher://x' is not supported by the test factory", Assert.Single(errors));
        Assert.Same(before, registry.Current);
    }
}
