using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// <c>--demo</c>: serves the bundled <c>samples/demo/</c> directory as bucket <c>demo</c>, so a fresh checkout has
/// something to try with one command. The sample files are copied to a temp directory together with one multi-MiB
/// file generated from a fixed seed (the repository stays small; the bytes are the same on every machine), and the
/// block cache lives in a temp directory too.
/// </summary>
internal static class DemoDataset
{
    public const string BucketName = "demo";
    public const string GeneratedKey = "blobs/seeded-8MiB.bin";
    public const int GeneratedSize = 8 * 1024 * 1024;
    private const string SamplesRelativePath = "samples/demo";

    public static (SidecarConfig? Config, string Origin) CreateConfig(List<string> errors)
    {
        var samples = FindSamplesDirectory();
        if (samples is null)
        {
            errors.Add($"--demo: cannot find '{SamplesRelativePath}' next to the executable or in a parent of the current directory: run from the repository");
            return (null, "--demo");
        }

        var root = Directory.CreateTempSubdirectory("fluid-sidecar-demo-");
        var data = root.CreateSubdirectory("data");
        CopyDirectory(samples, data.FullName);
        WriteSeededFile(Path.Combine(data.FullName, GeneratedKey), GeneratedSize);

        var config = new SidecarConfig
        {
            // A laptop or CI machine: the admin port stays on loopback too.
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = SidecarDefaults.AdminPort, LocalPort = SidecarDefaults.AdminLocalPort },
            Cache = new CacheConfig { Directory = root.CreateSubdirectory("cache").FullName, QuotaBytes = 256L * 1024 * 1024, MinFreeBytes = 0 },
            Datasets = [new DatasetConfig { Name = BucketName, Source = "local://" + data.FullName, Immutable = true }],
        };
        return (config, $"--demo (samples from '{samples}', served from '{data.FullName}')");
    }

    /// <summary>Removes the demo's temp copy and cache (only a directory this class created: checked by its name).</summary>
    public static void Cleanup(SidecarConfig config)
    {
        var root = Path.GetDirectoryName(config.Cache.Directory);
        if (root is not null && Path.GetFileName(root).StartsWith("fluid-sidecar-demo-", StringComparison.Ordinal) && Directory.Exists(root))
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp directory left behind is not worth failing a clean exit for.
            }
        }
    }

    /// <summary>The lines printed once the endpoint listens: where it is and two commands to try.</summary>
    public static string Banner(int s3Port, int adminLocalPort)
    {
        var endpoint = $"http://127.0.0.1:{s3Port}";
        return $"""

            Fluid.Serverless sidecar demo: bucket '{BucketName}' is served at {endpoint} (admin: http://127.0.0.1:{adminLocalPort}/status)
            Any credentials work; the endpoint is local. Try:
              AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} s3 ls --recursive s3://{BucketName}/
              AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} s3 cp s3://{BucketName}/hello.txt -
            Press Ctrl+C to stop.

            """;
    }

    /// <summary>Deterministic bytes (xorshift64 from a fixed seed): the same file on every machine.</summary>
    public static void WriteSeededFile(string path, int size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var buffer = new byte[64 * 1024];
        var state = 0x9E3779B97F4A7C15UL;
        using var file = File.Create(path);
        for (var written = 0; written < size; written += buffer.Length)
        {
            for (var i = 0; i < buffer.Length; i += 8)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                BitConverter.TryWriteBytes(buffer.AsSpan(i), state);
            }

            file.Write(buffer, 0, Math.Min(buffer.Length, size - written));
        }
    }

    private static string? FindSamplesDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, SamplesRelativePath);
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
