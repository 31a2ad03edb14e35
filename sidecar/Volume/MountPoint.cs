using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>Mount point hygiene: a FUSE mount whose server died answers ENOTCONN and must be detached before reuse.</summary>
internal static partial class MountPoint
{
    /// <summary>Detaches a stale mount at the path (if any) and makes sure the directory exists.</summary>
    public static void PrepareForMount(string mountPath, ILogger logger)
    {
        if (DetachIfStale(mountPath))
        {
            Log.StaleMountReplaced(logger, mountPath);
        }
        Directory.CreateDirectory(mountPath);
    }

    /// <summary>True when the path was a dead mount (stat → ENOTCONN) and has been lazily unmounted.</summary>
    public static unsafe bool DetachIfStale(string mountPath)
    {
        var statBuffer = stackalloc byte[512];
        if (LibC.Stat(mountPath, statBuffer) == 0 || LibC.LastError != LibC.ENOTCONN)
        {
            return false;
        }
        if (LibC.Unmount(mountPath, LibC.UnmountDetach) != 0)
        {
            throw new IOException($"mount point '{mountPath}' is stale (a previous FUSE server died) and cannot be detached: {LibC.Describe(LibC.LastError)}");
        }
        return true;
    }

    /// <summary>The errno stat(2) gives for the path, 0 when it succeeds.</summary>
    public static unsafe int StatError(string path)
    {
        var statBuffer = stackalloc byte[512];
        return LibC.Stat(path, statBuffer) == 0 ? 0 : LibC.LastError;
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "Mount point {MountPath} was stale (its FUSE server died); detached it before mounting again")]
        public static partial void StaleMountReplaced(ILogger logger, string mountPath);
    }
}
