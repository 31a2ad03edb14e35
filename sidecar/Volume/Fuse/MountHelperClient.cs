using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// The unprivileged sidecar's side of <see cref="MountHelper"/>: starts the helper (while still root), then sends
/// it one request at a time over the child's stdin/stdout. Disposing closes stdin, which ends the helper.
/// </summary>
internal sealed class MountHelperClient : IMountOperations, IDisposable
{
    /// <summary>/dev/fuse descriptors opened while still root, one per later mount.</summary>
    public const int SpareDevices = 8;

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly Queue<int> _spareDevices;

    private MountHelperClient(Process process, Queue<int> spareDevices)
    {
        _process = process;
        _spareDevices = spareDevices;
    }

    public int ProcessId => _process.Id;

    /// <summary>Starts <c>fluid-sidecar mount-helper</c> for mount points under <paramref name="roots"/>; call it as root, before dropping.</summary>
    public static MountHelperClient Start(IReadOnlyCollection<string> roots, string devicePath)
    {
        // /dev/fuse may be root-only (0600 on many hosts): later mounts use descriptors opened now, while root.
        var spares = new Queue<int>();
        for (var i = 0; i < SpareDevices; i++)
        {
            var descriptor = LibC.Open(devicePath, LibC.OReadWrite | LibC.ONonBlock | LibC.OCloseOnExec);
            if (descriptor >= 0)
            {
                spares.Enqueue(descriptor);
            }
        }

        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("cannot start the mount helper: the sidecar's executable path is unknown");
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet")
        {
            // Not the AOT binary (tests, `dotnet fluid-sidecar.dll`): the host needs the app's path first.
            start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        }

        start.ArgumentList.Add(MountHelper.Name);
        start.ArgumentList.Add("--parent");
        start.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        foreach (var root in roots)
        {
            start.ArgumentList.Add("--root");
            start.ArgumentList.Add(root);
        }

        // The helper holds no secret: it gets none of the sidecar's environment (the secrets live there).
        foreach (var name in start.Environment.Keys.ToList())
        {
            if (name is not ("PATH" or "DOTNET_ROOT"))
            {
                start.Environment.Remove(name);
            }
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start the mount helper '{executable}'");
        return new MountHelperClient(process, spares);
    }

    public int OpenDevice(string devicePath)
    {
        lock (_gate)
        {
            if (_spareDevices.TryDequeue(out var spare))
            {
                return spare;
            }
        }

        // Works where the device is world-writable (the usual 0666); else EACCES names the limit in the error.
        return LibC.Open(devicePath, LibC.OReadWrite | LibC.ONonBlock | LibC.OCloseOnExec);
    }

    public void Prepare(string mountPath) => Expect(Send($"prepare\t{mountPath}"), $"preparing mount point '{mountPath}'");

    public void Mount(string fileSystemName, string mountPath, int descriptor, bool writable)
    {
        var answer = Send($"mount\t{fileSystemName}\t{mountPath}\t{descriptor.ToString(CultureInfo.InvariantCulture)}{(writable ? "\trw" : "")}");
        if (answer != "ok")
        {
            throw new FuseUnavailableException($"the mount helper could not mount '{fileSystemName}' at '{mountPath}': {answer.Replace('\t', ' ')}");
        }
    }

    public bool TrySetReadAhead(string mountPath, int kilobytes) =>
        Send($"readahead\t{mountPath}\t{kilobytes.ToString(CultureInfo.InvariantCulture)}") == "ok";

    public int Unmount(string mountPath)
    {
        var answer = Send($"umount\t{mountPath}");
        return answer == "ok" ? 0
            : answer.StartsWith("errno\t", StringComparison.Ordinal) && int.TryParse(answer.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var errno) ? errno
            : LibC.EPERM;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
            {
                _process.Kill();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            // already gone
        }

        _process.Dispose();
        lock (_gate)
        {
            while (_spareDevices.TryDequeue(out var spare))
            {
                LibC.Close(spare);
            }
        }
    }

    private string Send(string request)
    {
        lock (_gate)
        {
            try
            {
                _process.StandardInput.WriteLine(request);
                _process.StandardInput.Flush();
                return _process.StandardOutput.ReadLine() ?? "error\tthe mount helper exited";
            }
            catch (IOException e)
            {
                return "error\tthe mount helper is gone: " + e.Message;
            }
        }
    }

    private static void Expect(string answer, string what)
    {
        if (answer != "ok")
        {
            throw new IOException($"{what} through the mount helper failed: {answer.Replace('\t', ' ')}");
        }
    }
}
