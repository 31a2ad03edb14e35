using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>Directories and renames on a directory source: real ones, through the same key-to-path checks as reads.</summary>
internal sealed partial class LocalObjectSource : IDirectoryTreeSource
{
    public bool CreateDirectory(string prefix)
    {
        var path = DirectoryPath(prefix);
        if (Directory.Exists(path))
        {
            return false;
        }

        Directory.CreateDirectory(path);
        return true;
    }

    public void DeleteDirectory(string prefix) => Directory.Delete(DirectoryPath(prefix), recursive: false);

    public void Rename(string fromKey, string toKey)
    {
        if (fromKey.EndsWith('/'))
        {
            Directory.Move(DirectoryPath(fromKey), DirectoryPath(toKey));
        }
        else
        {
            File.Move(WritablePath(fromKey), WritablePath(toKey), overwrite: true);
        }
    }

    private string DirectoryPath(string prefix) =>
        prefix.EndsWith('/') && ResolveKey(prefix.TrimEnd('/')) is { } path
            ? path
            : throw new ArgumentException($"'{prefix}' is not a directory inside the dataset under {root}", nameof(prefix));
}
