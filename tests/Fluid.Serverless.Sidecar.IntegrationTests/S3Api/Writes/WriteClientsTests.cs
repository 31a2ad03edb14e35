using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// Uploads with the command-line clients (aws-cli v1, rclone, s3cmd) through the sidecar, compared by SHA-256 at
/// moto. aws-cli uploads 100 MiB (the size, 13 parts); rclone and s3cmd stay at 24 MiB (above their
/// multipart thresholds) to keep the 2-core CI fast.
/// </summary>
[Collection(WriteThroughCollection.Name)]
public sealed class WriteClientsTests(WriteThroughEnvironment environment)
{
    [Fact]
    public async Task AwsCliV1_Cp100MiB_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes(100 * 1024 * 1024);
        var path = Path.Combine(environment.Root, "cli-v1-up.bin");
        await File.WriteAllBytesAsync(path, bytes);

        await CommandRunner.RunCheckedAsync(
            "aws",
            ["--endpoint-url", environment.Sidecar.S3Endpoint.ToString(), "s3", "cp", "--no-progress", path, $"s3://{WriteThroughEnvironment.Writable}/cli/v1-up.bin"],
            environment.ClientEnvironment());

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/cli/v1-up.bin"));
    }

    [Fact]
    public async Task Rclone_CopyDirectory_EveryFileStoredExactly()
    {
        var directory = Directory.CreateDirectory(Path.Combine(environment.Root, "rclone-up")).FullName;
        var small = WriteThroughEnvironment.RandomBytes(5_000);
        var big = WriteThroughEnvironment.RandomBytes((24 * 1024 * 1024) + 3);
        await File.WriteAllBytesAsync(Path.Combine(directory, "small.bin"), small);
        await File.WriteAllBytesAsync(Path.Combine(directory, "big.bin"), big);
        var env = environment.ClientEnvironment();
        env["AWS_CA_BUNDLE"] = null;
        env["RCLONE_CONFIG"] = Path.Combine(environment.Root, "rclone.conf");
        env["RCLONE_CONFIG_SIDECAR_TYPE"] = "s3";
        env["RCLONE_CONFIG_SIDECAR_PROVIDER"] = "Other";
        env["RCLONE_CONFIG_SIDECAR_ENDPOINT"] = environment.Sidecar.S3Endpoint.ToString();
        env["RCLONE_CONFIG_SIDECAR_ACCESS_KEY_ID"] = "app";
        env["RCLONE_CONFIG_SIDECAR_SECRET_ACCESS_KEY"] = "app-secret";
        env["RCLONE_CONFIG_SIDECAR_REGION"] = "us-east-1";
        env["RCLONE_CONFIG_SIDECAR_FORCE_PATH_STYLE"] = "true";

        await CommandRunner.RunCheckedAsync("rclone", ["copy", directory, $"sidecar:{WriteThroughEnvironment.Writable}/rclone"], env);

        Assert.Equal(WriteThroughEnvironment.Sha256(small), await environment.RemoteSha256Async("rw/rclone/small.bin"));
        Assert.Equal(WriteThroughEnvironment.Sha256(big), await environment.RemoteSha256Async("rw/rclone/big.bin"));
    }

    [Fact]
    public async Task S3cmd_Put24MiB_StoredExactly()
    {
        var bytes = WriteThroughEnvironment.RandomBytes((24 * 1024 * 1024) + 11);
        var path = Path.Combine(environment.Root, "s3cmd-up.bin");
        await File.WriteAllBytesAsync(path, bytes);
        var host = $"{environment.Sidecar.S3Endpoint.Host}:{environment.Sidecar.S3Endpoint.Port}";
        var config = Path.Combine(environment.Root, "s3cfg");
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = app
            secret_key = app-secret
            host_base = {host}
            host_bucket = {host}
            bucket_location = us-east-1
            use_https = False
            signature_v2 = False
            """);

        await CommandRunner.RunCheckedAsync(
            "s3cmd",
            ["-c", config, $"--host={host}", $"--host-bucket={host}", "--no-ssl", "put", path, $"s3://{WriteThroughEnvironment.Writable}/s3cmd/up.bin"],
            environment.ClientEnvironment());

        Assert.Equal(WriteThroughEnvironment.Sha256(bytes), await environment.RemoteSha256Async("rw/s3cmd/up.bin"));
    }
}
