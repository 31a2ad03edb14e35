using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;
using Fluid.Serverless.Sidecar.Volume;
using Fluid.Serverless.Sidecar.Volume.Copy;
using Fluid.Serverless.Sidecar.Volume.Fuse;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>
/// The real sidecar process in fuse and copy mode, as a pod runs it: /readyz waits for the volume, SIGTERM unmounts,
/// kill -9 leaves a dead mount that the restarted process replaces.
/// </summary>
[Collection(FuseCollection.Name)]
public sealed class VolumeProcessTests : IDisposable
{
    private readonly string _root = TempDirectory.Create("fluid-volume-process");
    private readonly string _data;
    private readonly IReadOnlyDictionary<string, string> _hashes;

    public VolumeProcessTests()
    {
        _data = Path.Combine(_root, "data");
        _hashes = ProcessLevel.TestDatasets.WriteFiles(_data, [("a.txt", 10), ("train/cats/1.jpg", 70_000), ("train/big.bin", 5L * 1024 * 1024 + 1)]);
    }

    public void Dispose()
    {
        var mount = Path.Combine(_root, "mnt");
        if (MountTable.IsMounted(mount))
        {
            Shell.RunAsync("umount", "-l", mount).GetAwaiter().GetResult();
        }
        Directory.Delete(_root, recursive: true);
    }

    private SidecarConfig Config(string mode) => new()
    {
        Mode = mode,
        Datasets = [new DatasetConfig { Name = "data", Source = $"local://{_data}", MountPath = Path.Combine(_root, "mnt") }],
    };

    private async Task AssertServedAsync(string mountPath)
    {
        foreach (var (key, hash) in _hashes)
        {
            var sum = await Shell.RunAsync("sha256sum", Path.Combine(mountPath, key));
            Assert.StartsWith(hash, sum.StandardOutput, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task FuseMode_SigtermUnmounts_KillNineLeavesADeadMountThatTheRestartReplaces()
    {
        var mountPath = Path.Combine(_root, "mnt");
        await using var sidecar = await SidecarProcess.StartAsync(Config(DatasetModes.Fuse));
        Assert.True(MountTable.IsMounted(mountPath), sidecar.Describe());
        await AssertServedAsync(mountPath);

        // The exit code belongs to the hosting tests; here: the process is gone and so is its mount.
        await sidecar.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.False(MountTable.IsMounted(mountPath), sidecar.Describe());

        await sidecar.RestartAsync();
        await AssertServedAsync(mountPath);
        sidecar.Kill();
        Assert.Equal(LibC.ENOTCONN, MountPoint.ProbeError(mountPath));

        await sidecar.RestartAsync();
        await AssertServedAsync(mountPath);
        Assert.Equal(1, File.ReadLines("/proc/self/mountinfo").Count(line => line.Contains(" " + mountPath + " ", StringComparison.Ordinal)));
        await sidecar.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.False(MountTable.IsMounted(mountPath));
    }

    [Fact]
    public async Task CopyMode_ReadyzWaitsForTheCopy_ViewListsOnlyTheDatasetAndMarkerIsOnTheCacheVolume()
    {
        var target = Path.Combine(_root, "mnt");
        await using var sidecar = await SidecarProcess.StartAsync(Config(DatasetModes.Copy));

        await AssertServedAsync(target);
        // What a training script listing /data sees: the dataset's entries and nothing of the sidecar's.
        var listing = await Shell.BashAsync($"cd '{target}' && find . -mindepth 1 | sort");
        Assert.Equal("./a.txt\n./train\n./train/big.bin\n./train/cats\n./train/cats/1.jpg\n", listing.StandardOutput);
        Assert.True(File.Exists(Path.Combine(sidecar.CacheDirectory, "copy", "data", DatasetCopier.ReadyMarkerName)));
        Assert.False(MountTable.IsMounted(target));
        await sidecar.TerminateAsync(TimeSpan.FromSeconds(30));
    }
}
