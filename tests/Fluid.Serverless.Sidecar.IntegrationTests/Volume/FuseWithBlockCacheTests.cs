using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>FUSE and copy mode over the real parts: LocalObjectSource → DiskBlockCache → ObjectReader.</summary>
[Collection(FuseCollection.Name)]
public sealed class FuseWithBlockCacheTests : IAsyncLifetime
{
    private readonly string _root = TempDirectory.Create("fluid-fuse-cache");
    private readonly DiskBlockCache _cache;
    private readonly ObjectReader _reader;

    public FuseWithBlockCacheTests()
    {
        _cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = Path.Combine(_root, "cache"), BlockSize = 1024 * 1024, QuotaBytes = 1L << 30, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance, TimeProvider.System);
        _reader = new ObjectReader(_cache, new ObjectReaderOptions(), NullLogger<ObjectReader>.Instance, TimeProvider.System);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _reader.DisposeAsync();
        await _cache.DisposeAsync();
        TempDirectory.Delete(_root);
    }

    [Fact]
    public async Task Read_ThroughTheBlockCache_EqualsTheSourceAndASecondPassNeverReachesTheSource()
    {
        var data = Path.Combine(_root, "data");
        Directory.CreateDirectory(Path.Combine(data, "train", "cats"));
        var random = new Random(11);
        foreach (var (name, size) in new[] { ("big.bin", 7 * 1024 * 1024 + 123), ("train/cats/1.jpg", 4097), ("train/cats/2.jpg", 1024 * 1024), ("train/labels.csv", 12) })
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            await File.WriteAllBytesAsync(Path.Combine(data, name), bytes);
        }
        var source = new CountingSource(new LocalObjectSource(data));
        await using var mounted = await MountedDataset.StartAsync(source, _reader);

        var expected = await Shell.BashAsync($"cd '{data}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum");
        var first = await Shell.BashAsync($"cd '{mounted.MountPath}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum");
        Assert.Equal(expected.StandardOutput, first.StandardOutput);
        var sourceBytesAfterFirstPass = source.BytesRead;
        Assert.True(sourceBytesAfterFirstPass >= 7 * 1024 * 1024, $"only {sourceBytesAfterFirstPass} bytes came from the source");

        // The dataset is mutable, so every open drops the kernel's page cache: the second pass reads through FUSE
        // again and must be served entirely by the block cache.
        var python = """
            import hashlib, random, sys
            data = open(sys.argv[2], 'rb').read()
            rng = random.Random(3)
            with open(sys.argv[1], 'rb') as f:
                for _ in range(200):
                    offset = rng.randrange(0, len(data)); length = rng.choice([1, 4096, 1 << 20])
                    f.seek(offset)
                    if f.read(length) != data[offset:offset + length]:
                        print('mismatch', offset, length); sys.exit(1)
            print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())
            """;
        var second = await Shell.RunAsync("python3", "-c", python, mounted.PathOf("big.bin"), Path.Combine(data, "big.bin"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(data, "big.bin")))) + "\n", second.StandardOutput + second.StandardError);
        Assert.Equal(sourceBytesAfterFirstPass, source.BytesRead);
    }

    [Fact]
    public async Task Read_SmallFilesInListingOrder_NextFilesWarmedAheadAndEachFetchedOnce()
    {
        var data = Path.Combine(_root, "data");
        Directory.CreateDirectory(Path.Combine(data, "small"));
        const int files = 200;
        var random = new Random(16);
        for (var i = 0; i < files; i++)
        {
            var bytes = new byte[16 * 1024];
            random.NextBytes(bytes);
            await File.WriteAllBytesAsync(Path.Combine(data, "small", $"f{i:D4}.bin"), bytes);
        }
        var source = new CountingSource(new LocalObjectSource(data));
        await using var mounted = await MountedDataset.StartAsync(source, _reader, immutable: true);

        var expected = await Shell.BashAsync($"cd '{data}/small' && ls | LC_ALL=C sort | xargs cat | sha256sum");
        var read = await Shell.BashAsync($"cd '{mounted.PathOf("small")}' && ls | LC_ALL=C sort | xargs cat | sha256sum");

        Assert.Equal(expected.StandardOutput, read.StandardOutput);
        // from the third file on, files are warmed ahead of the reader (a few may be skipped while 32 warm-ups are
        // running); none was fetched twice: a read joins its file's warm-up or hits the cache
        Assert.InRange(mounted.Mount.FileSystem.SmallFilesWarmedAhead, files / 2, files - 2);
        Assert.Equal(files * 16L * 1024, source.BytesRead);
    }

    [Fact]
    public async Task Copy_ThroughTheBlockCache_MaterializesFilesEqualToTheSource()
    {
        var data = Path.Combine(_root, "data");
        Directory.CreateDirectory(Path.Combine(data, "a", "b"));
        var bytes = new byte[3 * 1024 * 1024 + 17];
        new Random(5).NextBytes(bytes);
        await File.WriteAllBytesAsync(Path.Combine(data, "a", "b", "big.bin"), bytes);
        await File.WriteAllTextAsync(Path.Combine(data, "top.txt"), "top");
        var target = Path.Combine(_root, "copy");
        var dataset = StandInDatasets.Create(new LocalObjectSource(data), mountPath: target);
        var progress = new Fluid.Serverless.Sidecar.Volume.VolumeProgress("demo", "copy", target);

        await new Fluid.Serverless.Sidecar.Volume.Copy.DatasetCopier(dataset, target, _reader, new Fluid.Serverless.Sidecar.Volume.Copy.CopyOptions(0, 0, 2, Path.Combine(_root, "copy-state")), progress, TimeProvider.System, NullLogger.Instance)
            .RunAsync(CancellationToken.None);

        Assert.Equal(Fluid.Serverless.Sidecar.Volume.VolumeState.Ready, progress.State);
        var expected = await Shell.BashAsync($"cd '{data}' && find . -type f | LC_ALL=C sort | xargs sha256sum");
        var copied = await Shell.BashAsync($"cd '{target}' && find . -type f | LC_ALL=C sort | xargs sha256sum");
        Assert.Equal(expected.StandardOutput, copied.StandardOutput);
    }

    /// <summary>Counts the bytes read from the wrapped source.</summary>
    private sealed class CountingSource(IObjectSource inner) : IObjectSource
    {
        private long _bytesRead;

        public long BytesRead => Interlocked.Read(ref _bytesRead);
        public string Identity => inner.Identity;
        public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);
        public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

        public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _bytesRead, destination.Length);
            return inner.ReadAsync(obj, offset, destination, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
