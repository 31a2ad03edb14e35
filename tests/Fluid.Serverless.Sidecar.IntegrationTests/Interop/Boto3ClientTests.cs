using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>boto3 1.43 (the machine's pyenv Python) with its default checksum settings, through a script run by python3.</summary>
[Collection(InteropCollection.Name)]
public sealed class Boto3ClientTests(InteropEnvironment environment)
{
    private Task<CommandRunner.Result> Boto3Async(params string[] arguments) =>
        CommandRunner.RunCheckedAsync(
            "python3",
            [InteropScripts.Path("boto3_client.py"), environment.Endpoint.ToString(), InteropEnvironment.Bucket, .. arguments],
            environment.ClientEnvironment());

    [Theory]
    [InlineData(InteropEnvironment.BigKey)]
    [InlineData(InteropEnvironment.SpaceKey)]
    [InlineData(InteropEnvironment.UnicodeKey)]
    [InlineData(InteropEnvironment.PlusKey)]
    public async Task DownloadFile_IfMatchPinnedRangedParts_FileEqualsSource(string key)
    {
        var destination = Path.Combine(environment.NewDownloadDirectory(), "download");

        await Boto3Async("download_file", key, destination);

        Assert.Equal(environment.Hashes[key], Sha256Hex.OfFile(destination));
    }

    [Fact]
    public async Task GetObject_WholeObjectWithDefaultChecksumMode_BodyEqualsSource()
    {
        var result = await Boto3Async("get", InteropEnvironment.DeepKey);

        Assert.Equal(environment.Hashes[InteropEnvironment.DeepKey], result.StandardOutput.Trim());
    }

    [Fact]
    public async Task GetObject_Range_206WithExactBytes()
    {
        var source = await File.ReadAllBytesAsync(Path.Combine(environment.SourceDirectory, InteropEnvironment.SpaceKey));

        var result = await Boto3Async("get_range", InteropEnvironment.SpaceKey, "4194000", "4194999");

        Assert.Equal(
            $"206 bytes 4194000-4194999/{source.Length} {Sha256Hex.Of(source.AsSpan(4_194_000, 1_000))}",
            result.StandardOutput.Trim());
    }

    [Fact]
    public async Task ListObjectsV2Paginator_Prefix_ListsEveryKeyWithItsSize()
    {
        var result = await Boto3Async("list", InteropEnvironment.SyncPrefix);

        var expected = environment.KeysUnder(InteropEnvironment.SyncPrefix)
            .Select(k => $"{k}\t{new FileInfo(Path.Combine(environment.SourceDirectory, k)).Length}");
        Assert.Equal(expected, result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
