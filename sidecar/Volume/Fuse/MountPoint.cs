using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

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

    /// <summary>
    /// True when the path was a dead mount and has been lazily unmounted. Probed with statfs, not stat: the kernel
    /// answers stat from attributes it cached (for up to the TTL) even after the server died; statfs always asks.
    /// </summary>
    public static bool DetachIfStale(string mountPath)
    {
        if (ProbeError(mountPath) != LibC.ENOTCONN)
        {
            return false;
        }
        if (LibC.Unmount(mountPath, LibC.UnmountDetach) != 0)
        {
            throw new IOException($"mount point '{mountPath}' is stale (a previous FUSE server died) and cannot be detached: {LibC.Describe(LibC.LastError)}");
        }
        return true;
    }

    /// <summary>The errno statfs(2) gives for the path (ENOTCONN: a FUSE mount whose server is gone), 0 on success.</summary>
    public static unsafe int ProbeError(string path)
    {
        var buffer = stackalloc byte[512];
        return LibC.StatFs(path, buffer) == 0 ? 0 : LibC.LastError;
    }

    /// <summary>
    /// The kernel caps a FUSE mount's read-ahead at 128 KiB (the bdi default) whatever INIT negotiates, so
    /// sequential reads would reach us as 128 KiB requests. Raising the mount's bdi read_ahead_kb lets them grow to
    /// 1 MiB (max_pages=256), an 8x cut in requests. Best effort: false when sysfs is read-only or absent.
    /// </summary>
    public static unsafe bool TrySetReadAhead(string mountPath, int kilobytes)
    {
        var statBuffer = stackalloc byte[512];
        if (LibC.Stat(mountPath, statBuffer) != 0)
        {
            return false;
        }
        var device = *(ulong*)statBuffer; // st_dev is the first field of struct stat on x86-64 and arm64
        var major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfffUL);
        var minor = (device & 0xff) | ((device >> 12) & ~0xffUL);
        try
        {
            File.WriteAllText($"/sys/class/bdi/{major}:{minor}/read_ahead_kb", kilobytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.StaleMountReplaced, LogLevel.Warning, "Mount point {MountPath} was stale (its FUSE server died); detached it before mounting again")]
        public static partial void StaleMountReplaced(ILogger logger, string mountPath);
    }
}
