using System.Diagnostics;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>
/// Writes through the FUSE view of a writable dataset, with real tools (dd, cp, rm, mv, Python), checked by the
/// SHA-256 of the bytes at the remote (the dataset's directory for local://, moto's GetObject for s3://) and read back
/// through a second, fresh view with its own cache (what another pod's sidecar sees).
/// </summary>
internal static class FuseWriteScenario
{
    /// <summary>300 MiB through dd, as the write path's large-file case (a multipart upload on S3).</summary>
    public const int BigFileMiB = 300;

    /// <summary>moto keeps uploads in memory and is slow with large ones: the S3 run writes a smaller big file.</summary>
    public const int BigFileMiBOnMoto = 64;

    public const string PythonWriter = """
        import hashlib, os, sys
        path = sys.argv[1]
        with open(path, "wb") as f:
            f.write(b"a" * 100_000)
            f.flush(); os.fsync(f.fileno())
            f.write(b"b" * 50_000)
        with open(path, "ab") as f:
            f.write(b"appended")
        with open(path, "r+b") as f:
            f.seek(10)
            f.write(b"RANDOM")
            f.seek(0)
            head = f.read(16)
        with open(path, "rb") as f:
            data = f.read()
        expected = bytearray(b"a" * 100_000 + b"b" * 50_000 + b"appended")
        expected[10:16] = b"RANDOM"
        assert data == bytes(expected), "read back differs"
        assert head == bytes(expected[:16])
        print(hashlib.sha256(bytes(expected)).hexdigest())
        """;

    /// <summary>What torch.save with an atomic write does: a temp file in the target directory, then os.replace.</summary>
    public const string PythonCheckpoint = """
        import hashlib, os, sys
        directory = sys.argv[1]
        os.makedirs(directory, exist_ok=True)
        payload = os.urandom(3 * 1024 * 1024 + 17)
        temp = os.path.join(directory, ".epoch3.pt.tmp")
        with open(temp, "wb") as f:
            f.write(payload)
            f.flush(); os.fsync(f.fileno())
        os.replace(temp, os.path.join(directory, "epoch3.pt"))
        print(hashlib.sha256(payload).hexdigest())
        """;

    public static async Task RunAsync(WritableView view, Func<string, Task<string?>> remoteSha256, Func<string, Task<WritableView>> secondView, string scratch, int bigFileMiB = BigFileMiB)
    {
        // dd of a large file: staged, uploaded on close.
        var big = Path.Combine(scratch, "big.src");
        await Run($"head -c {bigFileMiB}M /dev/urandom > '{big}'");
        await Run($"dd if='{big}' of='{view.PathOf("big.bin")}' bs=1M status=none");
        var bigHash = WritableView.Sha256OfFile(big);
        Assert.Equal(bigHash, await remoteSha256("big.bin"));
        Assert.StartsWith(bigHash, (await Run($"sha256sum '{view.PathOf("big.bin")}'")).StandardOutput, StringComparison.Ordinal);
        File.Delete(big);

        // A Python program writing, fsyncing, appending and writing at an offset, reading its own bytes back.
        var script = Path.Combine(scratch, "writer.py");
        await File.WriteAllTextAsync(script, PythonWriter);
        var python = await Run($"python3 '{script}' '{view.PathOf("log.txt")}'");
        Assert.Equal(python.StandardOutput.Trim(), await remoteSha256("log.txt"));

        // cp -r of a tree (one file above the 8 MiB part size).
        var tree = Path.Combine(scratch, "tree");
        var files = Fluid.Serverless.Sidecar.Tests.ProcessLevel.TestDatasets.WriteFiles(tree, [("a.bin", 9L * 1024 * 1024 + 3), ("sub/b.txt", 10), ("sub/deeper/c.bin", 70_000), ("empty", 0)]);
        await Run($"cp -r '{tree}' '{view.MountPath}/'");
        foreach (var (key, hash) in files)
        {
            Assert.Equal(hash, await remoteSha256("tree/" + key));
        }
        Assert.Equal("a.bin\nempty\nsub\n", (await Run($"ls '{view.PathOf("tree")}'")).StandardOutput);

        // rm, and mv within the dataset.
        await Run($"rm '{view.PathOf("tree/sub/b.txt")}'");
        Assert.Null(await remoteSha256("tree/sub/b.txt"));
        Assert.False(File.Exists(view.PathOf("tree/sub/b.txt")));
        await Run($"mv '{view.PathOf("tree/a.bin")}' '{view.PathOf("moved.bin")}'");
        Assert.Null(await remoteSha256("tree/a.bin"));
        Assert.Equal(files["a.bin"], await remoteSha256("moved.bin"));

        // torch.save-style: write a temp file, fsync, rename over the final name.
        var checkpoint = Path.Combine(scratch, "checkpoint.py");
        await File.WriteAllTextAsync(checkpoint, PythonCheckpoint);
        var saved = (await Run($"python3 '{checkpoint}' '{view.PathOf("ckpt")}'")).StandardOutput.Trim();
        Assert.Equal(saved, await remoteSha256("ckpt/epoch3.pt"));
        Assert.Null(await remoteSha256("ckpt/.epoch3.pt.tmp"));
        Assert.Equal("epoch3.pt\n", (await Run($"ls '{view.PathOf("ckpt")}'")).StandardOutput);

        // Overwrite of an object whose blocks this view has cached: the next read sees the new bytes.
        Assert.StartsWith(files["a.bin"], (await Run($"sha256sum '{view.PathOf("moved.bin")}'")).StandardOutput, StringComparison.Ordinal);
        await Run($"cp '{tree}/sub/deeper/c.bin' '{view.PathOf("moved.bin")}'");
        Assert.Equal(files["sub/deeper/c.bin"], await remoteSha256("moved.bin"));
        Assert.StartsWith(files["sub/deeper/c.bin"], (await Run($"sha256sum '{view.PathOf("moved.bin")}'")).StandardOutput, StringComparison.Ordinal);
        Assert.Equal(70_000, new FileInfo(view.PathOf("moved.bin")).Length);

        // mkdir / rmdir of an empty directory.
        await Run($"mkdir '{view.PathOf("empty-dir")}' && test -d '{view.PathOf("empty-dir")}' && rmdir '{view.PathOf("empty-dir")}' && ! test -e '{view.PathOf("empty-dir")}'");

        // Another pod: a fresh view with its own cache reads the same bytes.
        await using (var other = await secondView(Path.Combine(scratch, "second")))
        {
            foreach (var (key, hash) in new[] { ("big.bin", bigHash), ("moved.bin", files["sub/deeper/c.bin"]), ("ckpt/epoch3.pt", saved), ("tree/sub/deeper/c.bin", files["sub/deeper/c.bin"]) })
            {
                Assert.StartsWith(hash, (await Run($"sha256sum '{other.PathOf(key)}'")).StandardOutput, StringComparison.Ordinal);
            }
        }

        Assert.True(view.Staging.Statistics.UploadsSucceeded >= 8, $"uploads counted: {view.Staging.Statistics.UploadsSucceeded}");
        Assert.Equal(0, view.Staging.Statistics.UploadsFailed);
        Assert.Equal(0, view.Staging.Statistics.StagedBytes);
        Assert.Empty(Directory.EnumerateFiles(view.StagingDirectory, "*", SearchOption.AllDirectories));
    }

    public static async Task<ProcessResult> Run(string script)
    {
        var result = await Shell.BashAsync(script);
        Assert.True(result.ExitCode == 0, $"`{script}` exited {result.ExitCode}: {result.StandardError}");
        return result;
    }
}

[Collection(FuseCollection.Name)]
public sealed class FuseWriteLocalTests : IAsyncLifetime
{
    private readonly string _root = TempDirectory.Create("fluid-fuse-write");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var mount in new[] { "mnt", "second/mnt", "tmpfs" })
        {
            await Shell.UnmountIfMountedAsync(Path.Combine(_root, mount));
        }
        TempDirectory.Delete(_root);
    }

    private DatasetConfig Config(string data, bool readOnly = false) =>
        new() { Name = "out", Source = $"local://{data}", MountPath = Path.Combine(_root, "mnt"), ReadOnly = readOnly };

    [Fact]
    public async Task LocalDataset_DdPythonCpRmMvCheckpoint_BytesLandInTheDirectory()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        await using var view = await WritableView.StartAsync(Config(data), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"));
        await FuseWriteScenario.RunAsync(
            view,
            key => Task.FromResult(File.Exists(Path.Combine(data, key)) ? WritableView.Sha256OfFile(Path.Combine(data, key)) : null),
            scratch => WritableView.StartAsync(Config(data) with { Name = "second" }, Path.Combine(scratch, "mnt"), Path.Combine(scratch, "cache")),
            Directory.CreateDirectory(Path.Combine(_root, "scratch")).FullName);
        // Directories are real on a directory source: an empty one stays.
        await FuseWriteScenario.Run($"mkdir '{view.PathOf("kept")}'");
        Assert.True(Directory.Exists(Path.Combine(data, "kept")));

        // An app that runs as another uid (nobody) writes too: the view's files and directories are open to every uid.
        await FuseWriteScenario.Run($"chmod o+x '{_root}' && setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo hi > \"{view.PathOf("kept/nobody.txt")}\"'");
        Assert.Equal("hi\n", await File.ReadAllTextAsync(Path.Combine(data, "kept", "nobody.txt")));
    }

    /// <summary>
    /// close(2) returns before the kernel's RELEASE of the handle reaches the view, so a program that reopens the file
    /// it just closed races that RELEASE. When the RELEASE found no handle left and the OPEN took the staged file
    /// before it was removed, the OPEN's writes went to a disposed file: EIO. Many reopen cycles make that window
    /// likely to be hit, as it was once in six runs of the write scenario before the fix.
    /// </summary>
    [Fact]
    public async Task LocalDataset_ReopenRightAfterClose_ManyTimes_NoWriteFails()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        await using var view = await WritableView.StartAsync(Config(data), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"));
        var script = Path.Combine(_root, "reopen.py");
        await File.WriteAllTextAsync(script, """
            import hashlib, sys
            path, expected = sys.argv[1], bytearray()
            for i in range(300):
                with open(path, "ab") as f:
                    f.write(b"%05d;" % i)
                expected += b"%05d;" % i
                with open(path, "r+b") as f:
                    f.seek(0)
                    f.write(b"X")
                expected[0:1] = b"X"
            with open(path, "rb") as f:
                assert f.read() == bytes(expected), "read back differs"
            print(hashlib.sha256(bytes(expected)).hexdigest())
            """);

        var result = await FuseWriteScenario.Run($"python3 '{script}' '{view.PathOf("reopened.txt")}'");

        Assert.Equal(result.StandardOutput.Trim(), WritableView.Sha256OfFile(Path.Combine(data, "reopened.txt")));
        Assert.Equal(0, view.Staging.Statistics.UploadsFailed);
    }

    [Fact]
    public async Task ReadOnlyDataset_EveryWriteIsErofs()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(data, "a.txt"), "hello");
        await using var view = await WritableView.StartAsync(Config(data, readOnly: true), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"));
        foreach (var command in new[] { "touch '{0}/new'", "echo x >> '{0}/a.txt'", "mkdir '{0}/d'", "rm '{0}/a.txt'", "mv '{0}/a.txt' '{0}/b.txt'" })
        {
            var result = await Shell.BashAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, command, view.MountPath));
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("Read-only file system", result.StandardError, StringComparison.Ordinal);
        }
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(data, "a.txt")));
    }

    [Fact]
    public async Task FullStaging_WriteGetsEnospc_OnTheBudgetAndOnARealFullVolume()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        // The staging budget (cache.stagingBytes) of 4 MiB: an 8 MiB file cannot be staged.
        await using (var view = await WritableView.StartAsync(Config(data), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"), stagingBytes: 4L * 1024 * 1024))
        {
            var result = await Shell.BashAsync($"dd if=/dev/zero of='{view.PathOf("big.bin")}' bs=1M count=8 status=none");
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("No space left on device", result.StandardError, StringComparison.Ordinal);
            Assert.Equal(0, view.Staging.Statistics.UploadsFailed);
        }

        // A cache volume that is really full (a 4 MiB tmpfs) with a large budget: the disk says ENOSPC, and so does the view.
        var tmpfs = Directory.CreateDirectory(Path.Combine(_root, "tmpfs")).FullName;
        await FuseWriteScenario.Run($"mount -t tmpfs -o size=4m tmpfs '{tmpfs}'");
        await using (var view = await WritableView.StartAsync(Config(data), Path.Combine(_root, "mnt"), tmpfs))
        {
            var result = await Shell.BashAsync($"dd if=/dev/zero of='{view.PathOf("big2.bin")}' bs=1M count=8 status=none");
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("No space left on device", result.StandardError, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(Path.Combine(data, "big2.bin")) && new FileInfo(Path.Combine(data, "big2.bin")).Length == 8L * 1024 * 1024);
    }
}

[Collection(MotoCollection.Name)]
public sealed class FuseWriteS3Tests(MotoServerFixture moto) : IAsyncLifetime
{
    private const string SecretVariable = "FLUID_TEST_FUSE_WRITE_SECRET";
    private readonly string _root = TempDirectory.Create("fluid-fuse-write-s3");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var mount in new[] { "mnt", "second/mnt" })
        {
            await Shell.UnmountIfMountedAsync(Path.Combine(_root, mount));
        }
        TempDirectory.Delete(_root);
    }

    private DatasetConfig Config(string bucket, string endpoint, string name = "out") => new()
    {
        Name = name,
        Source = $"s3://{bucket}/",
        ReadOnly = false,
        MountPath = Path.Combine(_root, "mnt"),
        Options = new Dictionary<string, string> { ["endpoint"] = endpoint, ["accessKeyId"] = moto.AccessKey },
        SecretOptions = new Dictionary<string, string> { ["secretAccessKey"] = SecretVariable },
    };

    private string? Secret(string name) => name == SecretVariable ? moto.SecretKey : null;

    private async Task<string?> RemoteSha256Async(string bucket, string key)
    {
        try
        {
            using var response = await moto.Client.GetObjectAsync(bucket, key);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer);
            return WritableView.Sha256(buffer.ToArray());
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    [Fact]
    public async Task S3Dataset_DdPythonCpRmMvCheckpoint_BytesLandInTheBucket()
    {
        var bucket = await moto.CreateBucketAsync("fusewrite");
        await using var view = await WritableView.StartAsync(Config(bucket, moto.Endpoint), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"), Secret);
        await FuseWriteScenario.RunAsync(
            view,
            key => RemoteSha256Async(bucket, key),
            scratch => WritableView.StartAsync(Config(bucket, moto.Endpoint, "second"), Path.Combine(scratch, "mnt"), Path.Combine(scratch, "cache"), Secret),
            Directory.CreateDirectory(Path.Combine(_root, "scratch")).FullName,
            FuseWriteScenario.BigFileMiBOnMoto);

        // Object stores have no directories: a directory with objects cannot be renamed (ENOTSUP), an empty one lives
        // in memory until a file lands in it.
        var rename = await Shell.BashAsync($"mv '{view.PathOf("tree")}' '{view.PathOf("tree2")}'");
        Assert.NotEqual(0, rename.ExitCode);
        Assert.Contains("not supported", rename.StandardError, StringComparison.OrdinalIgnoreCase);
        await FuseWriteScenario.Run($"mkdir -p '{view.PathOf("runs/1")}' && echo done > '{view.PathOf("runs/1/result.txt")}'");
        Assert.Equal(WritableView.Sha256("done\n"u8.ToArray()), await RemoteSha256Async(bucket, "runs/1/result.txt"));
    }

    [Fact]
    public async Task RemoteDownDuringClose_CloseIsEio_ThenTheRetryUploadsOnceItIsBack()
    {
        var bucket = await moto.CreateBucketAsync("fusedown");
        await using var proxy = await FaultProxy.StartAsync(moto.Endpoint);
        await using var view = await WritableView.StartAsync(Config(bucket, proxy.Endpoint), Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"), Secret);
        var payload = new byte[2 * 1024 * 1024 + 5];
        new Random(7).NextBytes(payload);
        var source = Path.Combine(_root, "payload.bin");
        await File.WriteAllBytesAsync(source, payload);

        // The file is created while the remote answers; it goes down before close.
        var script = $"""
            import errno, shutil, sys
            f = open("{view.PathOf("result.bin")}", "wb")
            f.write(open("{source}", "rb").read())
            print("written", flush=True)
            sys.stdin.readline()
            try:
                f.close()
                print("closed")
            except OSError as e:
                print("close failed:", errno.errorcode[e.errno])
            """;
        var start = new ProcessStartInfo("python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var writer = Process.Start(start)!;
        Assert.Equal("written", await writer.StandardOutput.ReadLineAsync());
        proxy.FailAll(new Fault.Status(503, "ServiceUnavailable"));
        await writer.StandardInput.WriteLineAsync();
        await writer.StandardInput.FlushAsync();
        Assert.Equal("close failed: EIO", await writer.StandardOutput.ReadLineAsync());
        await writer.WaitForExitAsync();

        var failed = Assert.Single(view.FileSystem.FailedUploads);
        Assert.Equal("result.bin", failed.Key);
        Assert.True(view.Staging.Statistics.UploadsFailed >= 1);
        Assert.Null(await RemoteSha256Async(bucket, "result.bin"));
        // The writer's bytes stay readable here while they wait.
        Assert.Equal(WritableView.Sha256(payload), WritableView.Sha256OfFile(view.PathOf("result.bin")));

        proxy.Heal();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await RemoteSha256Async(bucket, "result.bin") is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.Equal(WritableView.Sha256(payload), await RemoteSha256Async(bucket, "result.bin"));
        for (var i = 0; i < 50 && view.Staging.Statistics.StagedBytes > 0; i++)
        {
            await Task.Delay(100);
        }
        Assert.Empty(view.FileSystem.FailedUploads);
        Assert.Equal(0, view.Staging.Statistics.StagedBytes);
    }

    [Fact]
    public async Task KilledWithStagedFiles_RestartUploadsTheFsyncedOne_AndDeletesTheUnfinishedOne()
    {
        var bucket = await moto.CreateBucketAsync("fusecrash");
        await using var proxy = await FaultProxy.StartAsync(moto.Endpoint);
        var cache = Path.Combine(_root, "cache");
        var view = await WritableView.StartAsync(Config(bucket, proxy.Endpoint), Path.Combine(_root, "mnt"), cache, Secret);
        var script = $"""
            import os, sys
            done = open("{view.PathOf("done.bin")}", "wb")
            partial = open("{view.PathOf("partial.bin")}", "wb")
            print("opened", flush=True)
            sys.stdin.readline()
            done.write(b"d" * 1_000_000)
            done.flush()
            try:
                os.fsync(done.fileno())
                print("fsync ok", flush=True)
            except OSError:
                print("fsync failed", flush=True)
            partial.write(b"p" * 1000)
            partial.flush()
            print("staged", flush=True)
            sys.stdin.readline()
            """;
        var start = new ProcessStartInfo("python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var writer = Process.Start(start)!;
        Assert.Equal("opened", await writer.StandardOutput.ReadLineAsync());
        // The remote goes down before the bytes come: the fsync cannot upload, so they stay staged, marked complete.
        proxy.FailAll(new Fault.Status(503, "ServiceUnavailable"));
        await writer.StandardInput.WriteLineAsync();
        await writer.StandardInput.FlushAsync();
        Assert.Equal("fsync failed", await writer.StandardOutput.ReadLineAsync());
        Assert.Equal("staged", await writer.StandardOutput.ReadLineAsync());
        await view.CrashAsync();
        writer.Kill();
        await writer.WaitForExitAsync();
        Assert.Equal(2, Directory.EnumerateFiles(Path.Combine(cache, "fuse-staging", "out"), "*.data").Count());

        proxy.Heal();
        await using var restarted = await WritableView.StartAsync(Config(bucket, proxy.Endpoint), Path.Combine(_root, "mnt"), cache, Secret);
        Assert.Equal(WritableView.Sha256(new byte[1_000_000].Select(_ => (byte)'d').ToArray()), await RemoteSha256Async(bucket, "done.bin"));
        Assert.Null(await RemoteSha256Async(bucket, "partial.bin"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(cache, "fuse-staging", "out")));
        Assert.Equal(1, restarted.Staging.Statistics.UploadsSucceeded);
    }
}

/// <summary>Opt-in write-back (config fuse.writeBack): close returns before the upload; the backlog is bounded; stop uploads it.</summary>
[Collection(FuseCollection.Name)]
public sealed class FuseWriteBackTests : IAsyncLifetime
{
    private readonly string _root = TempDirectory.Create("fluid-fuse-write-back");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Shell.UnmountIfMountedAsync(Path.Combine(_root, "mnt"));
        TempDirectory.Delete(_root);
    }

    [Fact]
    public async Task WriteBack_CloseLeavesTheUploadToLater_AFullBacklogUploadsAtClose_StopUploadsTheRest()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        var config = new DatasetConfig { Name = "out", Source = $"local://{data}", ReadOnly = false };
        // An hour's delay: nothing but the backlog bound and the stop can upload in this test.
        var view = await WritableView.StartAsync(config, Path.Combine(_root, "mnt"), Path.Combine(_root, "cache"),
            writeBack: (TimeSpan.FromHours(1), 1024 * 1024));

        await FuseWriteScenario.Run($"head -c 600000 /dev/urandom > '{view.PathOf("a.bin")}'");
        Assert.False(File.Exists(Path.Combine(data, "a.bin")));
        // Readable here at once, from the cache volume.
        var staged = (await FuseWriteScenario.Run($"sha256sum '{view.PathOf("a.bin")}'")).StandardOutput[..64];

        // 600,000 + 600,000 bytes would pass the 1 MiB backlog: this close uploads its own file.
        await FuseWriteScenario.Run($"head -c 600000 /dev/urandom > '{view.PathOf("b.bin")}'");
        Assert.True(File.Exists(Path.Combine(data, "b.bin")));
        Assert.False(File.Exists(Path.Combine(data, "a.bin")));

        // Stopping (SIGTERM) uploads the backlog.
        await view.DisposeAsync();
        Assert.Equal(staged, WritableView.Sha256OfFile(Path.Combine(data, "a.bin")));
        Assert.Equal(0, view.Staging.Statistics.StagedBytes);
    }
}
