using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>s3cmd (Debian) with a temp config and --host/--host-bucket/--no-ssl pointing at the sidecar: <c>get</c>, <c>ls</c>.</summary>
[Collection(InteropCollection.Name)]
public sealed class S3cmdClientTests(InteropEnvironment environment)
{
    private async Task<CommandRunner.Result> S3cmdAsync(params string[] arguments)
    {
        var host = $"{environment.Endpoint.Host}:{environment.Endpoint.Port}";
        var config = Path.Combine(environment.NewDownloadDirectory(), "s3cfg");
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = sidecar-client
            secret_key = sidecar-client-secret
            host_base = {host}
            host_bucket = {host}
            bucket_location = us-east-1
            use_https = False
            signature_v2 = False
            """);
        return await CommandRunner.RunCheckedAsync(
            "s3cmd",
            ["-c", config, $"--host={host}", $"--host-bucket={host}", "--no-ssl", .. arguments],
            environment.ClientEnvironment());
    }

    [Theory]
    [InlineData(InteropEnvironment.BigKey)]
    [InlineData(InteropEnvironment.SpaceKey)]
    [InlineData(InteropEnvironment.UnicodeKey)]
    [InlineData(InteropEnvironment.PlusKey)]
    public async Task Get_Object_FileEqualsSource(string key)
    {
        var destination = Path.Combine(environment.NewDownloadDirectory(), "download");

        await S3cmdAsync("get", $"s3://{InteropEnvironment.Bucket}/{key}", destination);

        Assert.Equal(environment.Hashes[key], Sha256Hex.OfFile(destination));
    }

    [Fact]
    public async Task Ls_Recursive_ListsEveryKeyWithItsSize()
    {
        var result = await S3cmdAsync("ls", "--recursive", $"s3://{InteropEnvironment.Bucket}");

        // Lines look like "2026-11-28 14:00      8400953  s3://interop/big/model-8mib.bin" (the key may contain spaces).
        var prefix = $"s3://{InteropEnvironment.Bucket}/";
        var listed = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries) is [_, _, var size, var uri] && uri.Trim().StartsWith(prefix, StringComparison.Ordinal)
                ? (Key: uri.Trim()[prefix.Length..], Size: long.Parse(size, CultureInfo.InvariantCulture))
                : throw new InvalidOperationException($"unexpected 's3cmd ls' line: {line}"))
            .ToList();
        var expected = environment.KeysUnder("")
            .Select(k => (Key: k, Size: new FileInfo(Path.Combine(environment.SourceDirectory, k)).Length))
            .ToList();
        Assert.Equal(expected, listed);
    }
}
