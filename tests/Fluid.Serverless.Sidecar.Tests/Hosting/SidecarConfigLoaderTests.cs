using System.Collections;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

public sealed class SidecarConfigLoaderTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sidecar-config-tests-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public void Load_ConfigArgument_ReadsJsonFile()
    {
        var path = Write("config.json", """{ "datasets": [ { "name": "demo", "source": "local:///data" } ], "s3": { "port": 18080 } }""");

        var result = SidecarConfigLoader.Load(["--config", path], new Hashtable());

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("demo", result.Config!.Datasets[0].Name);
        Assert.Equal(18080, result.Config.S3.Port);
        Assert.Equal(SidecarDefaults.AdminPort, result.Config.Admin.Port);
        Assert.Contains(path, result.Origin, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PartialJson_KeepsDefaultsOfMissingMembers()
    {
        var config = SidecarConfigLoader.Parse("""{ "datasets": [ { "name": "demo", "source": "local:///d" } ] }""", "test", []);

        Assert.NotNull(config);
        Assert.Equal(new EndpointConfig(), config.S3);
        Assert.Equal(SidecarDefaults.AdminPort, config.Admin.Port);
        Assert.Equal(SidecarDefaults.BlockSizeBytes, config.Cache.BlockSizeBytes);
        Assert.Equal(["localhost"], config.VirtualHostDomains);
        Assert.True(config.Datasets[0].ReadOnly);
        Assert.Empty(config.Datasets[0].Options);
    }

    [Fact]
    public void Load_ConfigFileEnvironment_AndPortOverrides()
    {
        var path = Write("config.json", """{ "datasets": [] }""");
        var environment = new Hashtable
        {
            [EnvironmentNames.SidecarConfigFile] = path,
            [SidecarConfigLoader.S3PortVariable] = "19000",
            [SidecarConfigLoader.AdminPortVariable] = "19001",
            [SidecarConfigLoader.CacheDirectoryVariable] = "/tmp/cache-x",
        };

        var result = SidecarConfigLoader.Load([], environment);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(19000, result.Config!.S3.Port);
        Assert.Equal(19001, result.Config.Admin.Port);
        Assert.Equal("/tmp/cache-x", result.Config.Cache.Directory);
    }

    [Fact]
    public void Load_AnnotationsFile_TakesTheSidecarConfigAnnotation()
    {
        var path = Write("annotations", """
            other="x"
            serverless.fluid.io/sidecar-config="{\"datasets\":[{\"name\":\"from-annotation\",\"source\":\"s3://bucket/p\"}]}"
            """);

        var result = SidecarConfigLoader.Load([], new Hashtable { [EnvironmentNames.SidecarAnnotationsFile] = path });

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("from-annotation", result.Config!.Datasets[0].Name);
    }

    [Fact]
    public void Load_AnnotationsFileWithoutTheAnnotation_NamesIt()
    {
        var path = Write("annotations", "other=\"x\"\n");

        var result = SidecarConfigLoader.Load([], new Hashtable { [EnvironmentNames.SidecarAnnotationsFile] = path });

        Assert.False(result.Succeeded);
        Assert.Contains("serverless.fluid.io/sidecar-config", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_InvalidDataset_ReportsTheValidatorMessage()
    {
        var path = Write("config.json", """{ "datasets": [ { "name": "ok-one", "source": "local:///a" }, { "name": "Bad_Name", "source": "local:///b" } ] }""");

        var result = SidecarConfigLoader.Load(["--config=" + path], new Hashtable());

        Assert.False(result.Succeeded);
        Assert.Equal(["datasets[1].name: 'Bad_Name' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.'"], result.Errors);
    }

    [Fact]
    public void Load_UnknownJsonField_NamesThePath()
    {
        var path = Write("config.json", """{ "datasets": [ { "nmae": "x" } ] }""");

        var result = SidecarConfigLoader.Load(["--config", path], new Hashtable());

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Contains("nmae", error, StringComparison.Ordinal);
        Assert.Contains(path, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--config")]
    public void Load_BadArguments_AreErrors(string argument)
    {
        var result = SidecarConfigLoader.Load([argument], new Hashtable());

        Assert.False(result.Succeeded);
        Assert.Contains("--config", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadPortOverride_NamesTheVariable()
    {
        var result = SidecarConfigLoader.Load([], new Hashtable { [SidecarConfigLoader.S3PortVariable] = "http" });

        Assert.Equal(["FLUID_S3_PORT: 'http' is not a port: expected 0-65535"], result.Errors);
    }

    [Fact]
    public void Load_FileOverTheSizeCap_RejectedNamingTheCap()
    {
        var path = Write("huge.json", "{ \"datasets\": [] }" + new string(' ', 1024 * 1024));

        var result = SidecarConfigLoader.Load(["--config", path], new Hashtable());

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains("at most 1048576 expected", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadPrefetchEntry_RejectedNamingTheField()
    {
        var path = Write("prefetch.json", """{ "datasets": [ { "name": "abc", "source": "local:///a", "prefetch": ["ok/", "../up"] } ] }""");

        var result = SidecarConfigLoader.Load(["--config", path], new Hashtable());

        Assert.Equal(["datasets[0].prefetch: invalid prefetch entry '../up': '.' and '..' segments are not allowed"], result.Errors);
    }

    [Fact]
    public void Load_MissingFile_SaysSo()
    {
        var result = SidecarConfigLoader.Load(["--config", Path.Combine(_directory.FullName, "nope.json")], new Hashtable());

        Assert.Contains("cannot be read", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }
}
