using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Volume;

/// <summary>How datasets appear on the shared volume. Defaults are the initializers below.</summary>
internal sealed class VolumeOptions
{
    /// <summary>fuse, copy, s3 (no volume) or auto (fuse when /dev/fuse opens and mount works, else copy).</summary>
    public string Mode { get; set; } = DatasetModes.S3;

    /// <summary>Kernel entry/attribute cache timeouts for mutable datasets (immutable ones use a day).</summary>
    public TimeSpan MetadataTtl { get; set; } = TimeSpan.FromSeconds(SidecarDefaults.MetadataTtlSeconds);

    /// <summary>Threads taking requests off each /dev/fuse descriptor.</summary>
    public int FuseReaderThreads { get; set; } = 4;

    public string FuseDevicePath { get; set; } = "/dev/fuse";

    /// <summary>Copy mode: the most bytes a dataset may occupy (the emptyDir sizeLimit); 0 = the target's free space.</summary>
    public long CopySizeLimitBytes { get; set; }

    /// <summary>Copy mode without a size limit: free space always left on the target file system.</summary>
    public long CopyFreeSpaceFloorBytes { get; set; } = 64L * 1024 * 1024;

    public int CopyWorkers { get; set; } = 4;

    /// <summary>
    /// Copy mode: where each copy keeps its record of copied files and its ready marker, one subdirectory per dataset,
    /// outside the view (<c>&lt;cache.directory&gt;/copy</c> from a config; the system temp directory otherwise).
    /// </summary>
    public string CopyStateDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "fluid-sidecar-copy");

    /// <summary>FUSE mode: the uid/gid to switch to once every mount is up; null = keep the privileges.</summary>
    public (int Uid, int Gid)? DropPrivilegesTo { get; set; }

    /// <summary>Directories handed to <see cref="DropPrivilegesTo"/> before the switch (the cache), so it can still write them.</summary>
    public IReadOnlyList<string> OwnedDirectories { get; set; } = [];

    /// <summary>Options from the sidecar config; throws <see cref="ArgumentException"/> naming a bad field.</summary>
    public static VolumeOptions FromConfig(SidecarConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var options = new VolumeOptions
        {
            Mode = config.Mode,
            MetadataTtl = TimeSpan.FromSeconds(config.Cache.MetadataTtlSeconds),
            CopyWorkers = config.Prefetch.Workers,
            CopyStateDirectory = Path.Combine(config.Cache.Directory, "copy"),
            DropPrivilegesTo = config.DropPrivileges is { } drop ? (drop.Uid, drop.Gid) : null,
            OwnedDirectories = [config.Cache.Directory],
        };
        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (!DatasetModes.All.Contains(Mode))
        {
            throw new ArgumentException($"invalid value '{Mode}' for 'mode': expected one of {string.Join(", ", DatasetModes.All)}", nameof(Mode));
        }
        if (MetadataTtl < TimeSpan.Zero)
        {
            throw new ArgumentException($"invalid value '{MetadataTtl}' for 'cache.metadataTtlSeconds': expected 0 or more", nameof(MetadataTtl));
        }
        if (FuseReaderThreads < 1 || CopyWorkers < 1)
        {
            throw new ArgumentException($"invalid thread counts (fuse readers {FuseReaderThreads}, copy workers {CopyWorkers}): expected 1 or more", nameof(CopyWorkers));
        }
        if (CopySizeLimitBytes < 0)
        {
            throw new ArgumentException($"invalid value '{CopySizeLimitBytes}' for the copy size limit: expected 0 (free space) or a byte count", nameof(CopySizeLimitBytes));
        }
    }
}
