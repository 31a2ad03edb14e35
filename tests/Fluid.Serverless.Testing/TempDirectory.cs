namespace Fluid.Serverless.Testing;

/// <summary>
/// A scratch directory under the system temp folder, deleted on dispose (best effort: a leftover temp directory must
/// not fail a test). The static pair serves tests that hold a path instead of an instance (FUSE mount roots).
/// </summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "fluid-tests-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string Write(string relative, byte[] content)
    {
        var full = System.IO.Path.Join(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return full;
    }

    public string Write(string relative, string content) => Write(relative, System.Text.Encoding.UTF8.GetBytes(content));

    public void Dispose() => Delete(Path);

    /// <summary>A fresh directory named <paramref name="name"/>-&lt;guid&gt; under the temp folder.</summary>
    public static string Create(string name) => Directory.CreateTempSubdirectory(name + "-").FullName;

    /// <summary>Deletes <paramref name="path"/>, but never recurses into a live mount at <c>path/mnt</c>.</summary>
    public static void Delete(string path)
    {
        try
        {
            if (MountTable.IsMounted(System.IO.Path.Combine(path, "mnt")))
            {
                return;
            }

            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temp directory does not affect other tests.
        }
    }
}

/// <summary>Whether a path is a mount point, from /proc/self/mountinfo.</summary>
internal static class MountTable
{
    public static bool IsMounted(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && fields[4].Replace("\\040", " ", StringComparison.Ordinal) == full)
            {
                return true;
            }
        }

        return false;
    }
}
