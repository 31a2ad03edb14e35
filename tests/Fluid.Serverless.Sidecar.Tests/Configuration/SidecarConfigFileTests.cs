using System.Text;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public class SidecarConfigFileTests
{
    [Fact]
    public void Parse_AnnotationsFile_ReadsTheSidecarConfigEntry()
    {
        var file = "other=\"x\"\nserverless.fluid.io/sidecar-config=\"{\\\"datasets\\\":[{\\\"name\\\":\\\"abc\\\",\\\"source\\\":\\\"local:///d\\\"}]}\"\n";

        var read = SidecarConfigFile.Parse(Encoding.UTF8.GetBytes(file), "/p/annotations", ConfigFileKind.Annotations);

        Assert.Null(read.Error);
        Assert.Equal("abc", Assert.Single(read.Config!.Datasets).Name);
    }

    [Fact]
    public void Parse_PartialJson_KeepsEveryDefault()
    {
        var read = SidecarConfigFile.Parse("""{"datasets": [{"name": "abc", "source": "local:///d"}]}"""u8, "f", ConfigFileKind.Json);

        var config = read.Config!;
        Assert.Equal(DatasetModes.S3, config.Mode);
        Assert.Equal(SidecarDefaults.S3Port, config.S3.Port);
        Assert.Equal(SidecarDefaults.AdminPort, config.Admin.Port);
        Assert.Equal(SidecarDefaults.CacheQuotaBytes, config.Cache.QuotaBytes);
        Assert.Equal(SidecarDefaults.PrefetchWorkers, config.Prefetch.Workers);
        Assert.True(config.Datasets[0].ReadOnly);
        Assert.Empty(config.Datasets[0].Options);
        Assert.Empty(config.Datasets[0].Prefetch);
    }

    [Fact]
    public void Parse_UnrelatedAnnotationChanged_SameHash()
    {
        const string config = "serverless.fluid.io/sidecar-config=\"{}\"\n";
        var a = SidecarConfigFile.Parse(Encoding.UTF8.GetBytes("a=\"1\"\n" + config), "f", ConfigFileKind.Annotations);
        var b = SidecarConfigFile.Parse(Encoding.UTF8.GetBytes("a=\"2\"\n" + config), "f", ConfigFileKind.Annotations);
        Assert.Equal(a.ContentHash, b.ContentHash);
    }

    [Theory]
    [InlineData("Annotations", "a=\"1\"\n", "has no 'serverless.fluid.io/sidecar-config' annotation")]
    [InlineData("Annotations", "a=1\n", "malformed: annotations file line 1")]
    [InlineData("Json", "{\"datasets\": [", "not a valid sidecar config")]
    [InlineData("Json", "{\"dataset\": []}", "not a valid sidecar config")]
    [InlineData("Json", "null", "JSON null")]
    public void Parse_Bad_ErrorNamesFileAndProblem(string kind, string text, string expected)
    {
        var read = SidecarConfigFile.Parse(Encoding.UTF8.GetBytes(text), "/etc/x", Enum.Parse<ConfigFileKind>(kind));

        Assert.Null(read.Config);
        Assert.Contains("'/etc/x'", read.Error, StringComparison.Ordinal);
        Assert.Contains(expected, read.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MissingFile_ErrorNamesPath()
    {
        var read = SidecarConfigFile.Read("/nonexistent/fluid/annotations", ConfigFileKind.Annotations);
        Assert.Contains("'/nonexistent/fluid/annotations' cannot be read", read.Error, StringComparison.Ordinal);
    }
}
