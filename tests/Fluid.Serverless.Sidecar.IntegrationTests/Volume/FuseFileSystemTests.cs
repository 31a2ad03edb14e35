using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.Volume;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>Real FUSE mounts (root, /dev/fuse) driven by real tools: find, stat, cat, dd, sha256sum, python3.</summary>
[Collection(FuseCollection.Name)]
public sealed class FuseFileSystemTests
{
    private static readonly byte[] BigFile = RandomBytes(5 * 1024 * 1024 + 333, seed: 1);

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static StandInSource SampleSource(string sourceDirectory)
    {
        Directory.CreateDirectory(Path.Combine(sourceDirectory, "train", "cats"));
        Directory.CreateDirectory(Path.Combine(sourceDirectory, "name with spaces"));
        File.WriteAllBytes(Path.Combine(sourceDirectory, "big.bin"), BigFile);
        File.WriteAllBytes(Path.Combine(sourceDirectory, "empty.txt"), []);
        File.WriteAllBytes(Path.Combine(sourceDirectory, "train", "cats", "1.jpg"), RandomBytes(4095, 2));
        File.WriteAllBytes(Path.Combine(sourceDirectory, "train", "cats", "2.jpg"), RandomBytes(1024 * 1024 + 3, 3));
        File.WriteAllBytes(Path.Combine(sourceDirectory, "train", "labels.csv"), Encoding.UTF8.GetBytes("a,b\n1,2\n"));
        File.WriteAllBytes(Path.Combine(sourceDirectory, "name with spaces", "naïve ünïcode.txt"), RandomBytes(77, 4));
        return StandInSource.FromDirectory(sourceDirectory);
    }

    [Fact]
    public async Task Mount_LocalDirectorySource_FindStatCatDdSha256MatchTheSource()
    {
        var sourceDirectory = TempDirectory.Create("fluid-src");
        await using var mounted = await MountedDataset.StartAsync(SampleSource(sourceDirectory));

        var sourceFind = await Shell.BashAsync($"cd '{sourceDirectory}' && find . | LC_ALL=C sort");
        var mountFind = await Shell.BashAsync($"cd '{mounted.MountPath}' && find . | LC_ALL=C sort");
        Assert.Equal(0, mountFind.ExitCode);
        Assert.Equal(sourceFind.StandardOutput, mountFind.StandardOutput);

        var sourceSums = await Shell.BashAsync($"cd '{sourceDirectory}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum");
        var mountSums = await Shell.BashAsync($"cd '{mounted.MountPath}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum");
        Assert.Equal(0, mountSums.ExitCode);
        Assert.Contains("big.bin", mountSums.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(sourceSums.StandardOutput, mountSums.StandardOutput);

        var stat = await Shell.RunAsync("stat", "-c", "%s %F %a", mounted.PathOf("big.bin"), mounted.PathOf("train"), mounted.PathOf("empty.txt"));
        Assert.Equal($"{BigFile.Length} regular file 444\n0 directory 555\n0 regular empty file 444\n", stat.StandardOutput);

        var cat = await Shell.BashAsync($"cat '{mounted.PathOf("train/labels.csv")}'");
        Assert.Equal("a,b\n1,2\n", cat.StandardOutput);

        // dd with a 1 MiB block size from the middle: the kernel sends large READs at odd offsets.
        var dd = await Shell.BashAsync($"dd if='{mounted.PathOf("big.bin")}' bs=1M skip=2 count=4 status=none | sha256sum");
        var expected = Convert.ToHexStringLower(SHA256.HashData(BigFile.AsSpan(2 * 1024 * 1024, 3 * 1024 * 1024 + 333)));
        Assert.StartsWith(expected, dd.StandardOutput, StringComparison.Ordinal);
        TempDirectory.Delete(sourceDirectory);
    }

    [Fact]
    public async Task Read_PythonAtRandomOffsets_EqualsTheSource()
    {
        var sourceDirectory = TempDirectory.Create("fluid-src");
        await using var mounted = await MountedDataset.StartAsync(SampleSource(sourceDirectory));
        var script = """
            import os, random, sys
            mounted, source = sys.argv[1], sys.argv[2]
            size = os.path.getsize(source)
            rng = random.Random(7)
            with open(mounted, 'rb') as m, open(source, 'rb') as s:
                for _ in range(300):
                    offset = rng.randrange(0, size + 10)
                    length = rng.choice([1, 17, 4096, 65536, 1 << 20, 3 << 20])
                    m.seek(offset); s.seek(offset)
                    if m.read(length) != s.read(length):
                        print('mismatch at', offset, length); sys.exit(1)
            print('ok')
            """;
        var result = await Shell.RunAsync("python3", "-c", script, mounted.PathOf("big.bin"), Path.Combine(sourceDirectory, "big.bin"));
        Assert.Equal("ok\n", result.StandardOutput + result.StandardError);
        TempDirectory.Delete(sourceDirectory);
    }

    [Fact]
    public async Task Read_ConcurrentReadersOfOneFile_AllSeeTheSourceBytes()
    {
        var sourceDirectory = TempDirectory.Create("fluid-src");
        await using var mounted = await MountedDataset.StartAsync(SampleSource(sourceDirectory));
        var expected = Convert.ToHexStringLower(SHA256.HashData(BigFile));

        var processes = Enumerable.Range(0, 4).Select(_ => Shell.RunAsync("sha256sum", mounted.PathOf("big.bin")));
        var threads = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            // Each reader starts at a different offset and wraps around, so reads interleave across the file.
            await using var stream = new FileStream(mounted.PathOf("big.bin"), FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: false);
            var all = new byte[BigFile.Length];
            var start = i * BigFile.Length / 4;
            stream.Seek(start, SeekOrigin.Begin);
            stream.ReadExactly(all, start, all.Length - start);
            stream.Seek(0, SeekOrigin.Begin);
            stream.ReadExactly(all, 0, start);
            return Convert.ToHexStringLower(SHA256.HashData(all));
        }));

        foreach (var result in await Task.WhenAll(processes))
        {
            Assert.StartsWith(expected, result.StandardOutput, StringComparison.Ordinal);
        }
        Assert.All(await Task.WhenAll(threads), hash => Assert.Equal(expected, hash));
        TempDirectory.Delete(sourceDirectory);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuseCollection
{
    public const string Name = "FUSE mounts";
}
