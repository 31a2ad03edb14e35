using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>The two shapes the config arrives in.</summary>
internal enum ConfigFileKind
{
    /// <summary>A JSON file holding a <see cref="SidecarConfig"/> (FLUID_SIDECAR_CONFIG_FILE).</summary>
    Json,

    /// <summary>The downward-API annotations file; the config is its serverless.fluid.io/sidecar-config entry.</summary>
    Annotations,
}

/// <summary>What one read of the config file gave: a config, or an error naming what was wrong.</summary>
internal sealed record ConfigFileRead(SidecarConfig? Config, string? Error, ulong ContentHash);

/// <summary>
/// The one reader of the config file, at start-up and on every live reload: a size cap, then the JSON file or the
/// annotations file's entry, parsed with the contracts' source-generated JSON. Validation is <see cref="ConfigValidator"/>.
/// </summary>
internal static class SidecarConfigFile
{
    /// <summary>Far larger than any config, far smaller than memory: Kubernetes caps all annotations at 256 KiB.</summary>
    internal const int MaxFileBytes = 1024 * 1024;

    public static ConfigFileRead Read(string path, ConfigFileKind kind)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxFileBytes)
            {
                return Failed($"config file '{path}' is {info.Length} bytes; at most {MaxFileBytes} expected");
            }

            // Follows the "annotations → ..data/annotations" symlinks, so a swapped "..data" is read whole.
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed($"config file '{path}' cannot be read: {ErrorText.Describe(e)}");
        }

        return Parse(bytes, path, kind);
    }

    public static ConfigFileRead Parse(ReadOnlySpan<byte> bytes, string path, ConfigFileKind kind)
    {
        ReadOnlySpan<byte> json = bytes;
        byte[]? extracted = null;
        if (kind == ConfigFileKind.Annotations)
        {
            try
            {
                var annotations = GoQuotedAnnotations.Parse(bytes);
                if (!annotations.TryGetValue(Annotations.SidecarConfig, out var value))
                {
                    return Failed($"annotations file '{path}' has no '{Annotations.SidecarConfig}' annotation");
                }

                extracted = Encoding.UTF8.GetBytes(value);
                json = extracted;
            }
            catch (FormatException e)
            {
                return Failed($"annotations file '{path}' is malformed: {e.Message}");
            }
        }

        // Hash only the config itself: an unrelated annotation changing must not count as a reload.
        var hash = XxHash64.HashToUInt64(json);
        try
        {
            var config = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.SidecarConfig);
            return config is null
                ? new ConfigFileRead(null, $"config in '{path}' is JSON null; expected an object", hash)
                : new ConfigFileRead(config, null, hash);
        }
        catch (JsonException e)
        {
            return new ConfigFileRead(null, $"config in '{path}' is not a valid sidecar config: {ErrorText.Describe(e)}", hash);
        }
    }

    /// <summary>Failures hash their message, so one persisting failure is recorded once, not every poll.</summary>
    private static ConfigFileRead Failed(string error) => new(null, error, XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(error)));
}
