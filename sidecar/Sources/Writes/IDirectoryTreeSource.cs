namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// A writable source with real directories (local:// and nfs://): a directory exists without objects in it, and a
/// rename is one atomic step. Object stores have neither; the FUSE view keeps empty directories in memory there and
/// renames a file by copy + delete.
/// </summary>
internal interface IDirectoryTreeSource
{
    /// <summary>Creates the directory <paramref name="prefix"/> (a key ending in '/'); true when it was created, false when it exists.</summary>
    bool CreateDirectory(string prefix);

    /// <summary>Removes the empty directory <paramref name="prefix"/>; throws <see cref="IOException"/> when it is not empty.</summary>
    void DeleteDirectory(string prefix);

    /// <summary>Renames a file or directory (a key ending in '/') within the source, replacing a file at the target.</summary>
    void Rename(string fromKey, string toKey);
}
