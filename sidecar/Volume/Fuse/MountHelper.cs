using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// <c>fluid-sidecar mount-helper --parent PID --root DIR [--root DIR…]</c>: the small root process a FUSE sidecar
/// keeps after dropping its own privileges. It reads one request per line on stdin and answers one line on stdout;
/// it exits when stdin closes (the sidecar exited). It parses nothing from the network and holds no secret.
/// Requests (tab-separated): <c>prepare PATH</c>, <c>mount NAME PATH FD [rw]</c> (rw: without MS_RDONLY, for a writable dataset), <c>readahead PATH KB</c>,
/// <c>umount PATH</c>; answers: <c>ok</c>, <c>errno N</c> or <c>error MESSAGE</c>. Every PATH must lie under a
/// <c>--root</c>; the mount options are fixed (<see cref="DirectMountOperations.Options"/>); FD is a descriptor of
/// the parent, which the helper duplicates with pidfd_getfd (the same open /dev/fuse file, so the mount is bound to
/// the parent's session) and closes again after mount(2).
/// </summary>
internal static partial class MountHelper
{
    public const string Name = "mount-helper";

    public static int Run(IReadOnlyList<string> args, TextReader input, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var roots = new List<string>();
        var parent = 0;
        for (var i = 0; i + 1 < args.Count; i += 2)
        {
            switch (args[i])
            {
                case "--parent" when int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0:
                    parent = pid;
                    break;
                case "--root" when Path.IsPathFullyQualified(args[i + 1]) && args[i + 1] != "/":
                    roots.Add(Path.TrimEndingDirectorySeparator(Path.GetFullPath(args[i + 1])));
                    break;
                default:
                    error.WriteLine($"fluid-sidecar mount-helper: invalid argument '{args[i]} {args[i + 1]}': expected --parent PID and --root /absolute/dir (not /)");
                    return 2;
            }
        }

        if (parent == 0 || roots.Count == 0 || args.Count % 2 != 0)
        {
            error.WriteLine("fluid-sidecar mount-helper: expected --parent PID and at least one --root DIR");
            return 2;
        }

        var pidfd = (int)LibC.Syscall(LibC.SysPidfdOpen, parent, 0, 0);
        if (pidfd < 0)
        {
            error.WriteLine($"fluid-sidecar mount-helper: pidfd_open({parent}) failed: {LibC.Describe(LibC.LastError)}");
            return 1;
        }

        var direct = new DirectMountOperations(NullLogger.Instance);
        while (input.ReadLine() is { } line)
        {
            output.WriteLine(Handle(line, roots, pidfd, direct));
            output.Flush();
        }

        LibC.Close(pidfd);
        return 0;
    }

    private static string Handle(string line, List<string> roots, int pidfd, DirectMountOperations direct)
    {
        var parts = line.Split('\t');
        var pathIndex = parts[0] == "mount" ? 2 : 1;
        if (parts.Length <= pathIndex || !UnderRoot(parts[pathIndex], roots, out var path))
        {
            return "error\trequest refused: expected a known verb and a path under " + string.Join(", ", roots);
        }

        try
        {
            switch (parts[0])
            {
                case "prepare" when parts.Length == 2:
                    direct.Prepare(path);
                    return "ok";
                case "mount" when (parts.Length == 4 || (parts.Length == 5 && parts[4] == "rw")) && FileSystemName().IsMatch(parts[1]) && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var remote):
                    var local = (int)LibC.Syscall(LibC.SysPidfdGetfd, pidfd, remote, 0);
                    if (local < 0)
                    {
                        return "error\tpidfd_getfd failed: " + LibC.Describe(LibC.LastError);
                    }

                    try
                    {
                        direct.Mount(parts[1], path, local, writable: parts.Length == 5);
                        return "ok";
                    }
                    finally
                    {
                        LibC.Close(local);
                    }

                case "readahead" when parts.Length == 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var kilobytes):
                    return direct.TrySetReadAhead(path, kilobytes) ? "ok" : "error\tread_ahead_kb unchanged";
                case "umount" when parts.Length == 2:
                    var errno = direct.Unmount(path);
                    return errno == 0 ? "ok" : "errno\t" + errno.ToString(CultureInfo.InvariantCulture);
                default:
                    return "error\tunknown request";
            }
        }
        catch (Exception e) when (e is FuseUnavailableException or IOException or UnauthorizedAccessException)
        {
            return "error\t" + e.Message.ReplaceLineEndings(" ");
        }
    }

    private static bool UnderRoot(string candidate, List<string> roots, out string path)
    {
        path = Path.IsPathFullyQualified(candidate) ? Path.GetFullPath(candidate) : "";
        foreach (var root in roots)
        {
            if (path.StartsWith(root + "/", StringComparison.Ordinal) && !path.Contains('\0', StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex("^fluid-[a-z0-9.-]{1,63}$")]
    private static partial Regex FileSystemName();
}
