using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>
/// Switches a root process to an unprivileged uid/gid once its FUSE mounts are up: the process that parses remote
/// XML and HTTP, holds the secrets and serves the S3 endpoint then keeps no capability. setgroups, setresgid and
/// setresuid go through glibc, which applies them to every thread; leaving uid 0 for good (real, effective and saved)
/// clears the permitted and effective capability sets. (no_new_privs is per thread, so it is left to the container's
/// allowPrivilegeEscalation: false rather than set on one thread here.)
/// </summary>
internal static partial class PrivilegeDrop
{
    public static unsafe void Drop(int uid, int gid, IReadOnlyList<string> ownedDirectories, ILogger logger)
    {
        if (LibC.GetEffectiveUserId() != 0)
        {
            Log.NotRoot(logger, (int)LibC.GetEffectiveUserId());
            return;
        }

        foreach (var directory in ownedDirectories)
        {
            Directory.CreateDirectory(directory);
            Chown(directory, uid, gid);
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                Chown(entry, uid, gid);
            }
        }

        Check(LibC.SetGroups(0, null), "setgroups(0)");
        Check(LibC.SetResGid((uint)gid, (uint)gid, (uint)gid), $"setresgid({gid})");
        Check(LibC.SetResUid((uint)uid, (uint)uid, (uint)uid), $"setresuid({uid})");
        Log.Dropped(logger, uid, gid);
    }

    private static void Chown(string path, int uid, int gid) =>
        Check(LibC.LChown(path, (uint)uid, (uint)gid), $"chown of '{path}' to {uid}:{gid}");

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"cannot drop privileges: {what} failed: {LibC.Describe(LibC.LastError)}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = EventIds.PrivilegesDropped, Level = LogLevel.Information, Message = "FUSE mounts are up: now running as uid {Uid}, gid {Gid}, no capabilities")]
        public static partial void Dropped(ILogger logger, int uid, int gid);

        [LoggerMessage(EventId = EventIds.NothingToDrop, Level = LogLevel.Warning, Message = "dropPrivileges is set but the process runs as uid {Uid}, not root: nothing to drop")]
        public static partial void NotRoot(ILogger logger, int uid);
    }
}
