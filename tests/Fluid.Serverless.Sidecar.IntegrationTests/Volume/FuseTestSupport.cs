using System.Diagnostics;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Volume;
using Fluid.Serverless.Sidecar.Volume.Fuse;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>A real FUSE mount (as root, over /dev/fuse) of a stand-in dataset in a fresh temp directory.</summary>
internal sealed class MountedDataset : IAsyncDisposable
{
    private MountedDataset(string root, FuseMount mount, Dataset dataset)
    {
        Root = root;
        Mount = mount;
        Dataset = dataset;
    }

    public string Root { get; }
    public string MountPath => Mount.MountPath;
    public FuseMount Mount { get; }
    public Dataset Dataset { get; }

    public static async Task<MountedDataset> StartAsync(Fluid.Serverless.Sidecar.Sources.IObjectSource source, IObjectReader? reader = null, bool immutable = false, string? mountPath = null)
    {
        var root = TempDirectory.Create("fluid-fuse");
        mountPath ??= Path.Combine(root, "mnt");
        var dataset = StandInDatasets.Create(source, immutable: immutable, mountPath: mountPath);
        var fileSystem = new FuseFileSystem(dataset, reader ?? new PassThroughObjectReader(), TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance);
        var mount = await FuseMount.MountAsync(mountPath, "fluid-demo", fileSystem, readerThreads: 4, NullLogger.Instance, CancellationToken.None);
        return new MountedDataset(root, mount, dataset);
    }

    public string PathOf(string key) => Path.Combine(MountPath, key);

    public async ValueTask DisposeAsync()
    {
        await Mount.DisposeAsync();
        TempDirectory.Delete(Root);
    }
}

internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

internal static class Shell
{
    /// <summary>Runs a real command (no shell unless asked) and returns its exit code and output.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new ProcessResult(process.ExitCode, await output, await error);
    }

    public static Task<ProcessResult> BashAsync(string script) => RunAsync("bash", "-c", script);

    /// <summary>Detaches what a test left mounted on <paramref name="path"/> (a view it did not stop, a killed sidecar's mount), if anything.</summary>
    public static async Task UnmountIfMountedAsync(string path)
    {
        if (MountTable.IsMounted(path))
        {
            await RunAsync("umount", "-l", path);
        }
    }
}
