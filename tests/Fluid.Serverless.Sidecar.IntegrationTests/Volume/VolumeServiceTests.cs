using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Volume;
using Fluid.Serverless.Sidecar.Volume.Copy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

[Collection(FuseCollection.Name)]
public sealed class VolumeServiceTests : IDisposable
{
    private readonly string _root = TempDirectory.Create("fluid-volumes");

    public void Dispose()
    {
        foreach (var name in new[] { "one", "two" })
        {
            if (MountTable.IsMounted(Path.Combine(_root, name)))
            {
                return;
            }
        }
        Directory.Delete(_root, recursive: true);
    }

    private static StandInSource Source(string key, string content)
    {
        var source = new StandInSource();
        source.Put(key, System.Text.Encoding.UTF8.GetBytes(content));
        return source;
    }

    private VolumeService Create(StandInDatasetRegistry registry, string mode, string fuseDevice = "/dev/fuse") =>
        new(registry, new PassThroughObjectReader(), new VolumeOptions { Mode = mode, FuseDevicePath = fuseDevice, CopyFreeSpaceFloorBytes = 0, CopyStateDirectory = Path.Combine(_root, "copy-state") },
            TimeProvider.System, NullLogger<VolumeService>.Instance);

    /// <summary>Registry changes are applied in the background; wait (bounded) for the state a user would see.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Assert.False(timeout.IsCancellationRequested, $"timed out waiting until {what}");
        }
    }

    [Fact]
    public async Task StartAsync_FuseMode_MountsDatasetsAndFollowsRegistryChanges()
    {
        var one = Path.Combine(_root, "one");
        var two = Path.Combine(_root, "two");
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("a.txt", "one"), name: "one", mountPath: one));
        await using var service = Create(registry, DatasetModes.Fuse);

        await service.StartAsync(CancellationToken.None);
        Assert.Equal("one", await File.ReadAllTextAsync(Path.Combine(one, "a.txt")));
        Assert.True(service.IsReady);
        Assert.Equal(VolumeState.Mounted, Assert.Single(service.Volumes).State);

        // Dataset "one" switches source in place; "two" appears.
        registry.Set(
            StandInDatasets.Create(Source("b.txt", "one, new source"), name: "one", mountPath: one),
            StandInDatasets.Create(Source("c.txt", "two"), name: "two", mountPath: two));
        await WaitUntilAsync(() => service.Volumes.Count == 2 && service.IsReady, "dataset two is mounted");
        Assert.Equal("two", await File.ReadAllTextAsync(Path.Combine(two, "c.txt")));
        await WaitUntilAsync(() => File.Exists(Path.Combine(one, "b.txt")), "dataset one serves its new source");
        Assert.Equal("one, new source", await File.ReadAllTextAsync(Path.Combine(one, "b.txt")));

        registry.Set(StandInDatasets.Create(Source("c.txt", "two"), name: "two", mountPath: two));
        await WaitUntilAsync(() => !MountTable.IsMounted(one), "dataset one is unmounted");

        await service.StopAsync(CancellationToken.None);
        Assert.False(MountTable.IsMounted(two));
        Assert.Equal(VolumeState.Stopped, Assert.Single(service.Volumes).State);
    }

    [Fact]
    public async Task StartAsync_CopyMode_MaterializesTheDatasetAndBecomesReady()
    {
        var target = Path.Combine(_root, "one");
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("dir/a.txt", "copied"), name: "one", mountPath: target));
        await using var service = Create(registry, DatasetModes.Copy);

        await service.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => service.IsReady, "the copy is ready");
        var readiness = await new Fluid.Serverless.Sidecar.Admin.VolumesReadinessCheck(service).CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, readiness.Status);

        Assert.Equal("copied", await File.ReadAllTextAsync(Path.Combine(target, "dir/a.txt")));
        Assert.Equal(["dir"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
        var status = Assert.Single(service.Volumes);
        Assert.Equal((DatasetModes.Copy, VolumeState.Ready, 1L, 6L), (status.Mode, status.State, status.FilesDone, status.BytesDone));
    }

    [Fact]
    public async Task RegistryChange_CopyModeDatasetSwitchesSource_CopiesTheNewSourceAndStaysReady()
    {
        var target = Path.Combine(_root, "one");
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("v1.txt", "first"), name: "one", mountPath: target, sourceUri: "local:///v1"));
        await using var service = Create(registry, DatasetModes.Copy);
        await service.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => service.IsReady, "the first copy is ready");

        registry.Set(StandInDatasets.Create(Source("v2.txt", "second"), name: "one", mountPath: target, sourceUri: "local:///v2"));
        await WaitUntilAsync(() => File.Exists(Path.Combine(target, "v2.txt")) && service.IsReady, "the second source is copied");

        Assert.Equal("second", await File.ReadAllTextAsync(Path.Combine(target, "v2.txt")));
        await service.StopAsync(CancellationToken.None);
        Assert.Equal(VolumeState.Ready, Assert.Single(service.Volumes).State);
    }

    [Fact]
    public async Task StartAsync_AutoModeWithoutAFuseDevice_FallsBackToCopy()
    {
        var target = Path.Combine(_root, "one");
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("a.txt", "x"), name: "one", mountPath: target));
        await using var service = Create(registry, DatasetModes.Auto, fuseDevice: "/dev/no-such-fuse");

        await service.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => service.IsReady, "the copy is ready");

        Assert.Equal(DatasetModes.Copy, service.Mode);
        Assert.False(MountTable.IsMounted(target));
        Assert.Equal("x", await File.ReadAllTextAsync(Path.Combine(target, "a.txt")));
    }

    [Fact]
    public async Task StartAsync_AutoModeWithFuse_Mounts()
    {
        var target = Path.Combine(_root, "one");
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("a.txt", "x"), name: "one", mountPath: target));
        await using var service = Create(registry, DatasetModes.Auto);

        await service.StartAsync(CancellationToken.None);

        Assert.Equal(DatasetModes.Fuse, service.Mode);
        Assert.True(MountTable.IsMounted(target));
        await service.StopAsync(CancellationToken.None);
        Assert.False(MountTable.IsMounted(target));
    }

    [Fact]
    public async Task StartAsync_S3Mode_ServesNoVolumeAndIsReady()
    {
        var registry = new StandInDatasetRegistry();
        registry.Set(StandInDatasets.Create(Source("a.txt", "x"), name: "one", mountPath: Path.Combine(_root, "one")));
        await using var service = Create(registry, DatasetModes.S3);

        await service.StartAsync(CancellationToken.None);

        Assert.Empty(service.Volumes);
        Assert.True(service.IsReady);
        Assert.False(Directory.Exists(Path.Combine(_root, "one")));
    }

    [Fact]
    public void FromConfig_UnknownMode_FailsNamingTheValueAndTheChoices()
    {
        var error = Assert.Throws<ArgumentException>(() => VolumeOptions.FromConfig(new SidecarConfig { Mode = "nfs" }));
        Assert.Contains("invalid value 'nfs' for 'mode': expected one of auto, fuse, copy, s3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddVolumes_OneLine_WiresTheHostedServiceAndTheStatus()
    {
        var services = new ServiceCollection();
        services.AddSingleton<Fluid.Serverless.Sidecar.Datasets.IDatasetRegistry>(new StandInDatasetRegistry());
        services.AddSingleton<Fluid.Serverless.Sidecar.Cache.IObjectReader>(new PassThroughObjectReader());
        services.AddLogging();
        services.AddVolumes(new VolumeOptions { Mode = DatasetModes.Copy });
        await using var provider = services.BuildServiceProvider();

        var hosted = Assert.Single(provider.GetServices<IHostedService>().OfType<VolumeService>());
        var status = provider.GetRequiredService<IVolumeStatus>();
        Assert.Same(hosted, status);
        await hosted.StartAsync(CancellationToken.None);
        Assert.Equal(DatasetModes.Copy, status.Mode);
        await hosted.StopAsync(CancellationToken.None);
    }
}
