using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

/// <summary>
/// Writes a downward-API volume the way kubelet's AtomicWriter does: each version in a new "..&lt;timestamp&gt;"
/// directory, a "..data_tmp" symlink to it renamed over "..data" (rename(2) is atomic), and the user-visible
/// "annotations" as a symlink to "..data/annotations"; the previous version's directory is then removed.
/// </summary>
internal sealed class KubeletProjectedDirectory : IDisposable
{
    private int _version;
    private string? _currentVersionDirectory;

    public KubeletProjectedDirectory()
    {
        Root = Path.Combine(Path.GetTempPath(), "fluid-podinfo-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }
    public string AnnotationsPath => Path.Combine(Root, "annotations");

    /// <summary>Publishes a new version holding the given annotations (values Go-quoted, keys sorted).</summary>
    public void WriteAnnotations(IReadOnlyDictionary<string, string> annotations)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in annotations.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append('=').Append(GoQuote(value)).Append('\n');
        }

        WriteRaw(text.ToString());
    }

    public void WriteConfig(SidecarConfig config, string otherAnnotation = "1") =>
        WriteAnnotations(new Dictionary<string, string>
        {
            ["kubernetes.io/config.source"] = "api",
            ["example.com/other"] = otherAnnotation,
            [Annotations.SidecarConfig] = JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig),
        });

    public void WriteRaw(string annotationsFileText)
    {
        var versionName = string.Create(CultureInfo.InvariantCulture, $"..2026_11_28_14_00_00.{++_version:D9}");
        var versionDirectory = Path.Combine(Root, versionName);
        Directory.CreateDirectory(versionDirectory);
        File.WriteAllText(Path.Combine(versionDirectory, "annotations"), annotationsFileText);

        var dataTmp = Path.Combine(Root, "..data_tmp");
        File.CreateSymbolicLink(dataTmp, versionName);
        Rename(dataTmp, Path.Combine(Root, "..data"));

        if (!File.Exists(AnnotationsPath))
        {
            File.CreateSymbolicLink(AnnotationsPath, "..data/annotations");
        }

        if (_currentVersionDirectory is not null)
        {
            Directory.Delete(_currentVersionDirectory, recursive: true);
        }

        _currentVersionDirectory = versionDirectory;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    /// <summary>rename(2) of the symlink itself over the old one, as kubelet's os.Rename does.</summary>
    private static void Rename(string from, string to) =>
        Assert.True(NativeRename(from, to) == 0, $"rename({from}, {to}) failed: errno {Marshal.GetLastPInvokeError()}");

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int NativeRename([MarshalAs(UnmanagedType.LPUTF8Str)] string from, [MarshalAs(UnmanagedType.LPUTF8Str)] string to);

    /// <summary>Go's strconv.Quote for the characters configs contain (ASCII printable, quotes, backslashes, controls, non-ASCII).</summary>
    internal static string GoQuote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                < ' ' => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }
}
