using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public class MinimalSidecarConfigValidatorTests
{
    [Fact]
    public void Validate_GoodConfig_NoErrors() =>
        Assert.Empty(MinimalSidecarConfigValidator.Validate(new SidecarConfig
        {
            Datasets = [new DatasetConfig { Name = "my-data.v2", Source = "s3://b/p/", Prefetch = ["train/**/*.jpg", "@m.txt"] }],
        }));

    [Theory]
    [InlineData("UPPER", "s3://b/", "datasets[0].name: 'UPPER'")]
    [InlineData("ab", "s3://b/", "datasets[0].name: 'ab'")]
    [InlineData("-abc", "s3://b/", "datasets[0].name: '-abc'")]
    [InlineData("abc", "bucket/prefix", "datasets[0].source: 'bucket/prefix' is not a URI")]
    public void Validate_BadDataset_NamesField(string name, string source, string expected)
    {
        var errors = MinimalSidecarConfigValidator.Validate(new SidecarConfig { Datasets = [new DatasetConfig { Name = name, Source = source }] });
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DuplicateNamesAndBadPrefetch_EachReported()
    {
        var errors = MinimalSidecarConfigValidator.Validate(new SidecarConfig
        {
            Prefetch = new PrefetchConfig { Workers = 0, BandwidthBytesPerSecond = -1 },
            Datasets =
            [
                new DatasetConfig { Name = "abc", Source = "s3://b/" },
                new DatasetConfig { Name = "abc", Source = "s3://c/", Prefetch = ["../up"] },
            ],
        });

        Assert.Contains(errors, e => e.StartsWith("prefetch.workers: 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("prefetch.bandwidthBytesPerSecond: -1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("datasets[1].name: 'abc' is used by another dataset", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("datasets[1].prefetch: invalid prefetch entry '../up'", StringComparison.Ordinal));
    }
}
