using System.Diagnostics;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>
/// The real sidecar process in fuse mode with a writable dataset on moto (behind a fault proxy, to take the remote
/// down): a file written through the view is read back through the S3 endpoint; an fsync while the remote is down
/// answers EIO and shows in /status and /metrics; kill -9 with that file staged, then a restart, uploads it; a second
/// sidecar reads it.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class FuseWriteProcessTests(MotoServerFixture moto) : IAsyncLifetime
{
    private const string SecretVariable = "FLUID_TEST_FUSE_WRITE_PROCESS_SECRET";
    private readonly string _root = TempDirectory.Create("fluid-fuse-write-process");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Shell.UnmountIfMountedAsync(Path.Combine(_root, "mnt"));
        TempDirectory.Delete(_root);
    }

    [Fact]
    public async Task RealSidecar_WrittenFileReadThroughS3_KillNineWithAStagedFile_RestartUploadsIt()
    {
        var bucket = await moto.CreateBucketAsync("fuseproc");
        await using var proxy = await FaultProxy.StartAsync(moto.Endpoint);
        var dataset = new DatasetConfig
        {
            Name = "out",
            Source = $"s3://{bucket}/",
            ReadOnly = false,
            MountPath = Path.Combine(_root, "mnt"),
            Options = new Dictionary<string, string> { ["endpoint"] = proxy.Endpoint, ["accessKeyId"] = moto.AccessKey },
            SecretOptions = new Dictionary<string, string> { ["secretAccessKey"] = SecretVariable },
        };
        var environment = new Dictionary<string, string> { [SecretVariable] = moto.SecretKey };
        await using var sidecar = await SidecarProcess.StartAsync(new SidecarConfig { Mode = DatasetModes.Fuse, Datasets = [dataset] }, environment);
        var mount = Path.Combine(_root, "mnt");
        using var http = new HttpClient();

        // Written through the view, read through the S3 endpoint.
        var source = Path.Combine(_root, "a.src");
        await FuseWriteScenario.Run($"head -c 5M /dev/urandom > '{source}' && cp '{source}' '{mount}/a.bin'");
        var served = await http.GetByteArrayAsync(new Uri(sidecar.S3Endpoint, "/out/a.bin"));
        Assert.Equal(WritableView.Sha256OfFile(source), WritableView.Sha256(served));

        // The remote goes down between open and fsync: EIO, and the file waits staged (and complete) on the cache volume.
        var script = $"""
            import os, sys
            f = open("{mount}/b.bin", "wb")
            print("opened", flush=True)
            sys.stdin.readline()
            f.write(b"checkpoint" * 100_000)
            f.flush()
            try:
                os.fsync(f.fileno())
                print("fsync ok", flush=True)
            except OSError:
                print("fsync failed", flush=True)
            sys.stdin.readline()
            """;
        using var writer = Process.Start(new ProcessStartInfo("python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        Assert.Equal("opened", await writer.StandardOutput.ReadLineAsync());
        proxy.FailAll(new Fault.Status(503, "ServiceUnavailable"));
        await writer.StandardInput.WriteLineAsync();
        await writer.StandardInput.FlushAsync();
        Assert.Equal("fsync failed", await writer.StandardOutput.ReadLineAsync());
        var status = await http.GetStringAsync(new Uri(sidecar.AdminLocalEndpoint, "/status"));
        Assert.Contains("b.bin", status, StringComparison.Ordinal);
        var metrics = await http.GetStringAsync(new Uri(sidecar.AdminEndpoint, "/metrics"));
        Assert.Contains("fluid_sidecar_fuse_write_uploads_failed_total 1", metrics, StringComparison.Ordinal);
        Assert.Contains("fluid_sidecar_fuse_write_uploads_ok_total 1", metrics, StringComparison.Ordinal);

        sidecar.Kill();
        writer.Kill();
        await writer.WaitForExitAsync();
        proxy.Heal();
        await sidecar.RestartAsync();

        var expected = WritableView.Sha256(System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("checkpoint", 100_000))));
        string? atRemote = null;
        for (var i = 0; i < 300 && atRemote is null; i++)
        {
            try
            {
                using var response = await moto.Client.GetObjectAsync(bucket, "b.bin");
                using var buffer = new MemoryStream();
                await response.ResponseStream.CopyToAsync(buffer);
                atRemote = WritableView.Sha256(buffer.ToArray());
            }
            catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                await Task.Delay(100);
            }
        }
        Assert.Equal(expected, atRemote);
        // The log line follows the upload (after the object's new metadata is read).
        for (var i = 0; i < 100 && !sidecar.Output.Contains("left by a previous run was uploaded", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
        }
        Assert.True(sidecar.Output.Contains("left by a previous run was uploaded", StringComparison.Ordinal), sidecar.Output);

        // Another pod's sidecar (no volume) reads it through its S3 endpoint.
        await using var second = await SidecarProcess.StartAsync(
            new SidecarConfig { Mode = DatasetModes.S3, Datasets = [dataset with { MountPath = null, Options = new Dictionary<string, string> { ["endpoint"] = moto.Endpoint, ["accessKeyId"] = moto.AccessKey } }] },
            environment);
        Assert.Equal(expected, WritableView.Sha256(await http.GetByteArrayAsync(new Uri(second.S3Endpoint, "/out/b.bin"))));
        Assert.Equal(WritableView.Sha256OfFile(source), WritableView.Sha256(await http.GetByteArrayAsync(new Uri(second.S3Endpoint, "/out/a.bin"))));
    }
}
