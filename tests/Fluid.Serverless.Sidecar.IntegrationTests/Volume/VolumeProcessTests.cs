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
        // A temp directory is private to root (0700); a dataset's files in a pod are readable by the sidecar's user,
        // which matters once the sidecar has dropped its privileges.
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        _data = Path.Combine(_root, "data");
        _hashes = ProcessLevel.TestDatasets.WriteFiles(_data, [("a.txt", 10), ("train/cats/1.jpg", 70_000), ("train/big.bin", 5L * 1024 * 1024 + 1)]);
    }

    public void Dispose()
    {
        foreach (var mount in new[] { Path.Combine(_root, "mnt"), Path.Combine(_root, "mnt2") })
        {
            Shell.UnmountIfMountedAsync(mount).GetAwaiter().GetResult();
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
            Assert.True(sum.StandardOutput.StartsWith(hash, StringComparison.OrdinalIgnoreCase),
                $"sha256sum {key} through {mountPath}: '{sum.StandardOutput}' '{sum.StandardError}', expected {hash}");
        }
    }

    [Fact]
    public async Task FuseMode_DropPrivileges_EveryThreadRunsAsTheUnprivilegedUserWithNoCapabilities_AndStillServes()
    {
        Assert.Equal("0", (await Shell.RunAsync("id", "-u")).StandardOutput.Trim());
        var mountPath = Path.Combine(_root, "mnt");
        var config = Config(DatasetModes.Fuse) with { DropPrivileges = new DropPrivilegesConfig() };
        await using var sidecar = await SidecarProcess.StartAsync(
            config, new Dictionary<string, string> { ["FLUID_SECRET_DATA_0"] = "not-for-the-helper" }, cacheDirectory: Path.Combine(_root, "cache"));
        Assert.Contains("FLUID_SECRET_DATA_0", File.ReadAllText($"/proc/{sidecar.ProcessId}/environ"), StringComparison.Ordinal);
        // In a pod the config is a world-readable downward-API file; the harness's work directory is 0700.
        await Shell.RunAsync("chmod", "755", sidecar.WorkDirectory);
        Assert.True(MountTable.IsMounted(mountPath), sidecar.Describe());

        var threads = Directory.GetDirectories($"/proc/{sidecar.ProcessId}/task");
        Assert.NotEmpty(threads);
        foreach (var thread in threads)
        {
            var status = File.ReadAllLines(Path.Combine(thread, "status")).ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
            Assert.Equal("65532\t65532\t65532\t65532", status["Uid"]);
            Assert.Equal("65532\t65532\t65532\t65532", status["Gid"]);
            Assert.Equal("", status["Groups"]);
            Assert.Equal("0000000000000000", status["CapEff"]);
            Assert.Equal("0000000000000000", status["CapPrm"]);
        }

        await AssertServedAsync(mountPath);
        using var http = ProcessLevel.S3Http.CreateClient();
        Assert.Equal(_hashes["train/big.bin"], await ProcessLevel.S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "data", "train/big.bin"));

        // The root mount helper: root, but without the sidecar's environment (where the secrets are).
        var helper = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit))
            .Single(p => File.Exists($"/proc/{p}/status") && File.ReadLines($"/proc/{p}/status").Contains($"PPid:\t{sidecar.ProcessId}"));
        Assert.Contains("mount-helper", File.ReadAllText($"/proc/{helper}/cmdline"), StringComparison.Ordinal);
        Assert.DoesNotContain("FLUID_", File.ReadAllText($"/proc/{helper}/environ"), StringComparison.Ordinal);

        // A live switch that adds a dataset at a new mount point: the helper mounts it for the unprivileged sidecar.
        var second = Path.Combine(_root, "mnt2");
        var switched = sidecar.Config with
        {
            Datasets = [.. sidecar.Config.Datasets, new DatasetConfig { Name = "more", Source = $"local://{_data}", MountPath = second }],
        };
        await File.WriteAllTextAsync(sidecar.ConfigPath + ".tmp", System.Text.Json.JsonSerializer.Serialize(switched, ContractsJsonContext.Default.SidecarConfig));
        File.Move(sidecar.ConfigPath + ".tmp", sidecar.ConfigPath, overwrite: true);
        for (var attempt = 0; attempt < 300 && !MountTable.IsMounted(second); attempt++)
        {
            await Task.Delay(100);
        }

        Assert.True(MountTable.IsMounted(second), sidecar.Describe());
        await AssertServedAsync(second);

        // SIGTERM unmounts both through the helper, and the helper leaves with the sidecar.
        Assert.Equal(0, await sidecar.TerminateAsync(TimeSpan.FromSeconds(30)));
        Assert.False(MountTable.IsMounted(mountPath), sidecar.Describe());
        Assert.False(MountTable.IsMounted(second), sidecar.Describe());
        for (var attempt = 0; attempt < 100 && Directory.Exists($"/proc/{helper}"); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.False(Directory.Exists($"/proc/{helper}"), "the mount helper outlived the sidecar");
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
