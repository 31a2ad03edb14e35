using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// The privileged steps of a FUSE mount: prepare the mount point, mount(2) a /dev/fuse descriptor, raise the
/// mount's read-ahead, umount2. <see cref="DirectMountOperations"/> does them in this process (it is root);
/// <see cref="MountHelperClient"/> asks the root mount helper once this process has dropped its privileges.
/// </summary>
internal interface IMountOperations
{
    /// <summary>A fresh /dev/fuse descriptor (non-blocking, close-on-exec), or -1 with errno set.</summary>
    int OpenDevice(string devicePath);

    void Prepare(string mountPath);

    /// <summary>
    /// Mounts this process's /dev/fuse <paramref name="descriptor"/> at <paramref name="mountPath"/>, read-only unless
    /// <paramref name="writable"/>; throws <see cref="FuseUnavailableException"/>.
    /// </summary>
    void Mount(string fileSystemName, string mountPath, int descriptor, bool writable);

    bool TrySetReadAhead(string mountPath, int kilobytes);

    /// <summary>Lazily unmounts; 0 or the errno.</summary>
    int Unmount(string mountPath);
}

internal sealed class DirectMountOperations(ILogger logger) : IMountOperations
{
    /// <summary>Everything but the descriptor: the same for every mount, and the only options the helper accepts.</summary>
    public static string Options(int descriptor) =>
        $"fd={descriptor},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,max_read={FuseFileSystem.MaxRead}";

    public int OpenDevice(string devicePath) => LibC.Open(devicePath, LibC.OReadWrite | LibC.ONonBlock | LibC.OCloseOnExec);

    public void Prepare(string mountPath) => MountPoint.PrepareForMount(mountPath, logger);

    public void Mount(string fileSystemName, string mountPath, int descriptor, bool writable)
    {
        var flags = LibC.MountNoSuid | LibC.MountNoDev | (writable ? 0 : LibC.MountReadOnly);
        if (LibC.Mount(fileSystemName, mountPath, "fuse.fluid", flags, Options(descriptor)) != 0)
        {
            throw new FuseUnavailableException($"mount of '{fileSystemName}' at '{mountPath}' failed: {LibC.Describe(LibC.LastError)}; FUSE needs CAP_SYS_ADMIN");
        }
    }

    public bool TrySetReadAhead(string mountPath, int kilobytes) => MountPoint.TrySetReadAhead(mountPath, kilobytes);

    public int Unmount(string mountPath) => LibC.Unmount(mountPath, LibC.UnmountDetach) == 0 ? 0 : LibC.LastError;
}

/// <summary>
/// The operations every mount of a volume service uses, switched from <see cref="DirectMountOperations"/> to the
/// mount helper when the process drops its privileges: mounts made before the switch are unmounted by the helper too.
/// </summary>
internal sealed class SwitchableMountOperations(IMountOperations initial) : IMountOperations
{
    private volatile IMountOperations _current = initial;

    public IMountOperations Current
    {
        get => _current;
        set => _current = value;
    }

    public int OpenDevice(string devicePath) => _current.OpenDevice(devicePath);

    public void Prepare(string mountPath) => _current.Prepare(mountPath);

    public void Mount(string fileSystemName, string mountPath, int descriptor, bool writable) => _current.Mount(fileSystemName, mountPath, descriptor, writable);

    public bool TrySetReadAhead(string mountPath, int kilobytes) => _current.TrySetReadAhead(mountPath, kilobytes);

    public int Unmount(string mountPath) => _current.Unmount(mountPath);
}
