using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public class ReloadConfigValidatorTests
{
    [Fact]
    public void Validate_GoodConfig_NoErrors() =>
        Assert.Empty(ConfigValidator.Validate(new SidecarConfig
        {
            Datasets = [new DatasetConfig { Name = "my-data.v2", Source = "s3://b/p/", Prefetch = ["train/**/*.jpg", "@m.txt"] }],
        }));

    [Fact]
    public void Validate_ContractRuleBroken_ReportedByField()
    {
        var errors = ConfigValidator.Validate(new SidecarConfig { Datasets = [new DatasetConfig { Name = "UPPER", Source = "s3://b/" }] });
        Assert.Contains(errors, e => e.StartsWith("datasets[0].name: 'UPPER'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BadPrefetchEntry_ReportedByDatasetAndEntry()
    {
        var errors = ConfigValidator.Validate(new SidecarConfig
        {
            Datasets =
            [
                new DatasetConfig { Name = "abc", Source = "s3://b/" },
                new DatasetConfig { Name = "def", Source = "s3://c/", Prefetch = ["ok/", "../up"] },
            ],
        });

        Assert.Equal(["datasets[1].prefetch: invalid prefetch entry '../up': '.' and '..' segments are not allowed"], errors);
    }
}
