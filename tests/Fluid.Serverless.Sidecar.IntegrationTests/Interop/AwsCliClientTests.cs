using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>
/// aws-cli v1 (pyenv, <c>aws</c> on PATH) and v2 (Debian, <c>/usr/bin/aws</c>): <c>s3 cp</c>, <c>s3 ls</c> and
/// <c>s3 sync</c> of a prefix with multi-MiB files (above the CLI's 8 MiB multipart threshold, so ranged GETs).
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class AwsCliClientTests(InteropEnvironment environment)
{
    public const string V1 = "aws";
    public const string V2 = "/usr/bin/aws";

    private async Task<CommandRunner.Result> AwsAsync(string cli, params string[] arguments)
    {
        var version = await CommandRunner.RunCheckedAsync(cli, ["--version"], environment.ClientEnvironment());
        var expectedMajor = cli == V1 ? "aws-cli/1." : "aws-cli/2.";
        Assert.True(
            (version.StandardOutput + version.StandardError).StartsWith(expectedMajor, StringComparison.Ordinal),
            $"'{cli}' should be {expectedMajor}x (aws-cli v1 comes from the pyenv Python, v2 from Debian's awscli): {version}");

        return await CommandRunner.RunCheckedAsync(
            cli,
            ["--endpoint-url", environment.Endpoint.ToString(), .. arguments],
            environment.ClientEnvironment());
    }

    [Theory]
    [InlineData(V1, InteropEnvironment.BigKey)]
    [InlineData(V1, InteropEnvironment.SpaceKey)]
    [InlineData(V1, InteropEnvironment.UnicodeKey)]
    [InlineData(V2, InteropEnvironment.BigKey)]
    [InlineData(V2, InteropEnvironment.PlusKey)]
    [InlineData(V2, InteropEnvironment.DeepKey)]
    public async Task S3Cp_Download_FileEqualsSource(string cli, string key)
    {
        var destination = Path.Combine(environment.NewDownloadDirectory(), "download");

        await AwsAsync(cli, "s3", "cp", $"s3://{InteropEnvironment.Bucket}/{key}", destination);

        Assert.Equal(environment.Hashes[key], Sha256Hex.OfFile(destination));
    }

    [Theory]
    [InlineData(V1)]
    [InlineData(V2)]
    public async Task S3Ls_Recursive_ListsEveryKeyWithItsSize(string cli)
    {
        var result = await AwsAsync(cli, "s3", "ls", "--recursive", $"s3://{InteropEnvironment.Bucket}/");

        // Lines look like "2026-11-28 14:00:00    8400953 big/model-8mib.bin" (the key may contain spaces).
        var listed = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries) is [_, _, var size, var key]
                ? (Key: key.Trim(), Size: long.Parse(size, CultureInfo.InvariantCulture))
                : throw new InvalidOperationException($"unexpected 'aws s3 ls' line: {line}"))
            .ToList();
        var expected = environment.KeysUnder("")
            .Select(k => (Key: k, Size: new FileInfo(Path.Combine(environment.SourceDirectory, k)).Length))
            .ToList();
        Assert.Equal(expected, listed);
    }

    [Theory]
    [InlineData(V1)]
    [InlineData(V2)]
    public async Task S3Sync_PrefixWithMultiMiBFiles_EveryFileEqualsSource(string cli)
    {
        var destination = environment.NewDownloadDirectory();

        await AwsAsync(cli, "s3", "sync", $"s3://{InteropEnvironment.Bucket}/{InteropEnvironment.SyncPrefix}", destination);

        environment.AssertSameFiles(destination, InteropEnvironment.SyncPrefix, environment.KeysUnder(InteropEnvironment.SyncPrefix).Count);

        // A second sync finds nothing to do: sizes and times the sidecar reports match what was written.
        var again = await AwsAsync(cli, "s3", "sync", $"s3://{InteropEnvironment.Bucket}/{InteropEnvironment.SyncPrefix}", destination);
        Assert.DoesNotContain("download:", again.StandardOutput, StringComparison.Ordinal);
    }
}
