using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests;

public class ContractsTests
{
    [Fact]
    public void SidecarConfig_RoundTripsThroughSourceGeneratedJson()
    {
        var config = new SidecarConfig { Datasets = [new DatasetConfig { Name = "demo", Source = "local:///data" }] };
        var json = System.Text.Json.JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig);
        var back = System.Text.Json.JsonSerializer.Deserialize(json, ContractsJsonContext.Default.SidecarConfig)!;
        Assert.Equal("demo", back.Datasets[0].Name);
        Assert.Equal(SidecarDefaults.S3Port, back.S3.Port);
    }
}
