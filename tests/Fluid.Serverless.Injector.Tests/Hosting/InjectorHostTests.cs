using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Policy;
using Microsoft.Extensions.DependencyInjection;

namespace Fluid.Serverless.Injector.Tests.Hosting;

public sealed class InjectorHostTests
{
    [Fact]
    public async Task Build_CommandLineOptions_ReplaceDefaultsInsteadOfAppending()
    {
        await using var app = InjectorHost.Build([
            "--Server:WatchCluster=false",
            "--Injector:SidecarImage=registry.local/sidecar:v2",
            "--Injector:SidecarCommand:0=/bin/sidecar",
            "--Injector:InjectByDefault=true",
        ]);

        var options = app.Services.GetRequiredService<InjectorOptions>();

        Assert.Equal("registry.local/sidecar:v2", options.SidecarImage);
        Assert.Equal(["/bin/sidecar"], options.SidecarCommand);
        Assert.True(options.InjectByDefault);
        Assert.Equal(["/app/fluid-sidecar", "wait-ready"], options.LegacyWaitCommand);
        Assert.Empty(options.AllowedHostPaths);
    }

    [Fact]
    public async Task Build_AllowedHostPathsConfigured_ReadAsAList()
    {
        await using var app = InjectorHost.Build([
            "--Server:WatchCluster=false",
            "--Injector:AllowedHostPaths:0=/mnt/lustre",
            "--Injector:AllowedHostPaths:1=/scratch",
        ]);

        Assert.Equal(["/mnt/lustre", "/scratch"], app.Services.GetRequiredService<InjectorOptions>().AllowedHostPaths);
    }

    [Fact]
    public void Build_UnknownCertificateMode_FailsAtStartNamingTheSetting()
    {
        var exception = Assert.Throws<InvalidOperationException>(() => InjectorHost.Build(["--Server:WatchCluster=false", "--Server:CertificateMode=magic"]));
        Assert.Contains("invalid value 'magic' for Server:CertificateMode", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Injector:DefaultMode=turbo", "invalid value 'turbo' for Injector:DefaultMode")]
    [InlineData("--Injector:DefaultCacheSize=big", "invalid value 'big' for Injector:DefaultCacheSize")]
    [InlineData("--Injector:DefaultSidecarResources=gpu=1", "invalid value 'gpu=1' for Injector:DefaultSidecarResources")]
    [InlineData("--Injector:AdminPort=17480", "invalid value '17480/17480' for Injector:S3Port/AdminPort")]
    [InlineData("--Injector:AllowedHostPaths:0=mnt/lustre", "invalid value 'mnt/lustre' for Injector:AllowedHostPaths")]
    [InlineData("--Injector:AllowedHostPaths:0=/mnt/../etc", "invalid value '/mnt/../etc' for Injector:AllowedHostPaths")]
    public void Build_InvalidInjectorOption_FailsAtStartNamingTheSetting(string argument, string message)
    {
        var exception = Assert.Throws<InvalidOperationException>(() => InjectorHost.Build(["--Server:WatchCluster=false", argument]));
        Assert.Contains(message, exception.Message, StringComparison.Ordinal);
    }
}
