using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>
/// rclone (Debian) with an on-the-fly remote defined by RCLONE_CONFIG_SIDECAR_* env vars: <c>ls</c>, <c>copy</c>,
/// <c>check</c>. Run without AWS_CA_BUNDLE, which rclone would otherwise try to load for a plain-HTTP endpoint.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class RcloneClientTests(InteropEnvironment environment)
{
    private Task<CommandRunner.Result> RcloneAsync(params string[] arguments)
    {
        var env = environment.ClientEnvironment();
        env["AWS_CA_BUNDLE"] = null;
        env["RCLONE_CONFIG"] = Path.Combine(environment.NewDownloadDirectory(), "rclone.conf");
        env["RCLONE_CONFIG_SIDECAR_TYPE"] = "s3";
        env["RCLONE_CONFIG_SIDECAR_PROVIDER"] = "Other";
        env["RCLONE_CONFIG_SIDECAR_ENDPOINT"] = environment.Endpoint.ToString();
        env["RCLONE_CONFIG_SIDECAR_ACCESS_KEY_ID"] = "sidecar-client";
        env["RCLONE_CONFIG_SIDECAR_SECRET_ACCESS_KEY"] = "sidecar-client-secret";
        env["RCLONE_CONFIG_SIDECAR_REGION"] = "us-east-1";
        env["RCLONE_CONFIG_SIDECAR_FORCE_PATH_STYLE"] = "true";
        return CommandRunner.RunCheckedAsync("rclone", arguments, env);
    }

    [Fact]
    public async Task Ls_WholeDataset_ListsEveryKeyWithItsSize()
    {
        var result = await RcloneAsync("ls", $"sidecar:{InteropEnvironment.Bucket}");

        // Lines look like "  8400953 big/model-8mib.bin"; rclone lists in its own order.
        var listed = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.TrimStart().Split(' ', 2) is [var size, var key]
                ? (Key: key, Size: long.Parse(size, CultureInfo.InvariantCulture))
                : throw new InvalidOperationException($"unexpected 'rclone ls' line: {line}"))
            .OrderBy(entry => entry.Key, StringComparer.Ordinal)
            .ToList();
        var expected = environment.KeysUnder("")
            .Select(k => (Key: k, Size: new FileInfo(Path.Combine(environment.SourceDirectory, k)).Length))
            .ToList();
        Assert.Equal(expected, listed);
    }

    [Fact]
    public async Task Copy_PrefixWithMultiMiBFiles_EveryFileEqualsSource()
    {
        var destination = environment.NewDownloadDirectory();

        await RcloneAsync("copy", $"sidecar:{InteropEnvironment.Bucket}/sync", destination);

        environment.AssertSameFiles(destination, InteropEnvironment.SyncPrefix, environment.KeysUnder(InteropEnvironment.SyncPrefix).Count);
    }

    [Fact]
    public async Task Check_DatasetAgainstSourceDirectory_NoDifferences()
    {
        // rclone compares sizes and MD5 (the ETag of a single-part object) and exits non-zero on any difference.
        var result = await RcloneAsync("check", $"sidecar:{InteropEnvironment.Bucket}", environment.SourceDirectory);

        Assert.Contains("0 differences found", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckDownload_DatasetAgainstSourceDirectory_BytesIdentical()
    {
        // --download compares the actual bytes, not hashes the server reports.
        var result = await RcloneAsync("check", "--download", $"sidecar:{InteropEnvironment.Bucket}", environment.SourceDirectory);

        Assert.Contains("0 differences found", result.StandardError, StringComparison.Ordinal);
    }
}
