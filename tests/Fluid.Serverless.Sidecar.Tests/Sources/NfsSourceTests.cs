using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>
/// nfs:// datasets are served from the directory where the injector mounts the export in the sidecar. Here a plain
/// directory stands in for that mount (the kernel NFS server cannot run in this container; see Sources/README.md).
/// </summary>
public sealed class NfsSourceTests
{
    [Fact]
    public async Task Create_ExportMountedAtLocalPath_ServesItWithNfsIdentity()
    {
        using var mount = new TempDirectory();
        var content = RandomBytes(100_000, seed: 3);
        mount.Write("images/cat.jpg", content);

        await using var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "nas",
            Source = "nfs://nas.example.com/export/datasets",
            Options = new Dictionary<string, string> { ["localPath"] = mount.Path },
        });
        var obj = await source.HeadAsync("images/cat.jpg", CancellationToken.None);
        var page = await source.ListAsync(new ListRequest("", "/", null, 10), CancellationToken.None);

        Assert.Equal("nfs://nas.example.com/export/datasets/", source.Identity);
        Assert.NotNull(obj);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, 64 * 1024)));
        Assert.Equal(["images/"], page.CommonPrefixes);
    }

    [Fact]
    public void Create_ExportNotMounted_ThrowsNamingDefaultMountPath()
    {
        var error = Assert.Throws<ArgumentException>(() => new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "nas-missing",
            Source = "nfs://nas.example.com/export",
        }));

        Assert.Contains(SidecarDefaults.NfsMountPath("nas-missing"), error.Message, StringComparison.Ordinal);
        Assert.Contains("dataset 'nas-missing'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NoServer_ThrowsExpectedShape()
    {
        var error = Assert.Throws<ArgumentException>(() => new SourceFactory(_ => null).Create(new DatasetConfig { Name = "n", Source = "nfs:///export" }));

        Assert.Contains("nfs://server/export/path", error.Message, StringComparison.Ordinal);
    }
}
