using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

public sealed class SourceFactoryTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    private static SourceFactory Factory(Dictionary<string, string> environment) =>
        new(name => environment.TryGetValue(name, out var value) ? value : null);

    [Fact]
    public async Task Create_LocalScheme_ServesTheDirectory()
    {
        using var data = new TempDirectory();
        data.Write("x.txt", "x");

        await using var source = Factory(NoEnvironment).Create(new DatasetConfig { Name = "demo", Source = "local://" + data.Path });

        Assert.NotNull(await source.HeadAsync("x.txt", CancellationToken.None));
    }

    /// <summary>The injector admits exactly the contract's schemes: each must reach a source class here.</summary>
    [Fact]
    public void Create_EveryContractScheme_HasASourceClass()
    {
        foreach (var scheme in SidecarConfigValidator.SourceSchemes)
        {
            var error = Record.Exception(() => Factory(NoEnvironment).Create(new DatasetConfig { Name = "imagenet", Source = scheme + "://x/y" }));

            Assert.False(error?.Message.Contains("unsupported scheme", StringComparison.Ordinal) == true, $"{scheme}: {error?.Message}");
        }
    }

    [Theory]
    [InlineData("ftp://host/x", "unsupported scheme 'ftp'")]
    [InlineData("just-a-path", "is not a URI")]
    [InlineData("local://host/data", "local:///absolute/path")]
    [InlineData("", "field 'source' is empty")]
    public void Create_BadSource_ThrowsNamingDatasetAndField(string source, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => Factory(NoEnvironment).Create(new DatasetConfig { Name = "imagenet", Source = source }));

        Assert.Contains("dataset 'imagenet'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_InvalidOptionValueFromSecret_ErrorNamesTheOptionButNotTheValue()
    {
        const string secretEndpoint = "not a uri: s3cr3t-endpoint-value";
        var config = new DatasetConfig
        {
            Name = "imagenet",
            Source = "s3://bucket/prefix",
            Options = new Dictionary<string, string> { ["region"] = "us-east-1" },
            SecretOptions = new Dictionary<string, string> { ["endpoint"] = "FLUID_SECRET_IMAGENET_ENDPOINT" },
        };

        var error = Assert.Throws<ArgumentException>(() => Factory(new() { ["FLUID_SECRET_IMAGENET_ENDPOINT"] = secretEndpoint }).Create(config));

        Assert.Contains("'endpoint'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-endpoint-value", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Create_SecretEnvironmentVariableMissing_ThrowsNamingOptionAndVariable()
    {
        var config = new DatasetConfig
        {
            Name = "imagenet",
            Source = "local:///tmp",
            SecretOptions = new Dictionary<string, string> { ["aws.secretKey"] = "FLUID_SECRET_IMAGENET_SECRETKEY" },
        };

        var error = Assert.Throws<ArgumentException>(() => Factory(NoEnvironment).Create(config));

        Assert.Contains("'aws.secretKey'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'FLUID_SECRET_IMAGENET_SECRETKEY'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OptionBothPlainAndSecret_ThrowsNamingOption()
    {
        var config = new DatasetConfig
        {
            Name = "imagenet",
            Source = "local:///tmp",
            Options = new Dictionary<string, string> { ["aws.secretKey"] = "inline" },
            SecretOptions = new Dictionary<string, string> { ["aws.secretKey"] = "FLUID_SECRET_X" },
        };

        var error = Assert.Throws<ArgumentException>(() => Factory(new() { ["FLUID_SECRET_X"] = "s" }).Create(config));

        Assert.Contains("option 'aws.secretKey' is set both", error.Message, StringComparison.Ordinal);
    }
}
