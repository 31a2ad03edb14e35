using System.Security.Cryptography;
using System.Text.Json;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume;
using Fluid.Serverless.Sidecar.Volume.Copy;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

public sealed class DatasetCopierTests : IDisposable
{
    private readonly string _target = TempDirectory.Create("fluid-copy");
    private readonly string _stateRoot = TempDirectory.Create("fluid-copy-state");

    private string StateFile(string name) => Path.Combine(DatasetCopier.StateDirectoryFor(_stateRoot, "demo"), name);

    public void Dispose()
    {
        TempDirectory.Delete(_target);
        TempDirectory.Delete(_stateRoot);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static StandInSource Sample()
    {
        var source = new StandInSource();
        source.Put("a.bin", RandomBytes(1000, 1));
        source.Put("b.bin", RandomBytes(3 * 1024 * 1024 + 5, 2));
        source.Put("c.bin", RandomBytes(2 * 1024 * 1024 + 7, 3));
        source.Put("d.bin", RandomBytes(10, 4));
        source.Put("train/cats/1.jpg", RandomBytes(500, 5));
        source.Put("train/dogs/2.jpg", RandomBytes(600, 6));
        source.Put("train/labels.csv", RandomBytes(70, 7));
        source.Put("empty.txt", []);
        return source;
    }

    private async Task<VolumeProgress> CopyAsync(Dataset dataset, IObjectReader reader, long sizeLimit = 0, long floor = 0, int workers = 4)
    {
        var progress = new VolumeProgress(dataset.Name, "copy", _target);
        var copier = new DatasetCopier(dataset, _target, reader, new CopyOptions(sizeLimit, floor, workers, _stateRoot), progress, TimeProvider.System, NullLogger.Instance);
        await copier.RunAsync(CancellationToken.None);
        return progress;
    }

    private void AssertSameAsSource(StandInSource source, IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            var path = Path.Combine(_target, key);
            Assert.True(File.Exists(path), $"{key} was not copied");
            Assert.Equal(SHA256.HashData(source.Content(key)), SHA256.HashData(File.ReadAllBytes(path)));
        }
    }

    private string[] PartialFiles() => Directory.GetFiles(_target, "*" + DatasetCopier.PartialSuffix, SearchOption.AllDirectories);

    [Fact]
    public async Task RunAsync_WholeDataset_CopiesEveryFileAndWritesTheReadyMarkerLast()
    {
        var source = Sample();
        source.Put("x", "file x"u8.ToArray());          // both a file and a prefix: the directory wins
        source.Put("x/y", "file x/y"u8.ToArray());
        source.Put("up/../escape", "x"u8.ToArray());    // never written outside the target

        var progress = await CopyAsync(StandInDatasets.Create(source), new PassThroughObjectReader());

        var status = progress.Snapshot();
        Assert.Equal(VolumeState.Ready, status.State);
        string[] keys = ["a.bin", "b.bin", "c.bin", "d.bin", "train/cats/1.jpg", "train/dogs/2.jpg", "train/labels.csv", "empty.txt", "x/y"];
        AssertSameAsSource(source, keys);
        Assert.True(Directory.Exists(Path.Combine(_target, "x")));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_target)!, "escape")));
        Assert.Empty(PartialFiles());
        var marker = JsonSerializer.Deserialize(File.ReadAllBytes(StateFile(DatasetCopier.ReadyMarkerName)), VolumeJsonContext.Default.ReadyMarker)!;
        var expectedBytes = keys.Sum(k => (long)source.Content(k).Length);
        Assert.Equal((keys.Length, expectedBytes), (marker.Files, marker.Bytes));
        Assert.Equal((keys.Length, keys.Length, expectedBytes, expectedBytes), (status.FilesTotal, status.FilesDone, status.BytesTotal, status.BytesDone));
        // sha256sum of the real files agrees too (what a user would run).
        var sums = await Shell.BashAsync($"cd '{_target}' && sha256sum b.bin");
        Assert.StartsWith(Convert.ToHexStringLower(SHA256.HashData(source.Content("b.bin"))), sums.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PrefetchList_CopiesOnlyTheDeclaredPaths()
    {
        var source = Sample();
        source.Put("lists/manifest.txt", "d.bin\n# comment\n\n"u8.ToArray());
        var dataset = StandInDatasets.Create(source, prefetch: ["train/**/*.jpg", "a.bin", "@lists/manifest.txt"]);

        var progress = await CopyAsync(dataset, new PassThroughObjectReader());

        Assert.Equal(VolumeState.Ready, progress.State);
        AssertSameAsSource(source, ["train/cats/1.jpg", "train/dogs/2.jpg", "a.bin", "d.bin"]);
        // Every entry of the view is the dataset's: no record or marker of the sidecar's among them.
        var copied = Directory.GetFiles(_target, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(_target, p)).Order(StringComparer.Ordinal);
        Assert.Equal(["a.bin", "d.bin", "train/cats/1.jpg", "train/dogs/2.jpg"], copied);
    }

    [Fact]
    public async Task RunAsync_WhileAFileIsBeingWritten_ItsFinalNameDoesNotExistYet()
    {
        var source = Sample();
        var observations = new List<(bool FinalExists, bool PartialExists)>();
        var reader = new ObservingReader(new PassThroughObjectReader(), (obj, offset) =>
        {
            if (obj.Key == "b.bin" && offset > 0)
            {
                lock (observations)
                {
                    observations.Add((File.Exists(Path.Combine(_target, "b.bin")), File.Exists(Path.Combine(_target, ".b.bin" + DatasetCopier.PartialSuffix))));
                }
            }
        });

        var progress = await CopyAsync(StandInDatasets.Create(source), reader);

        Assert.Equal(VolumeState.Ready, progress.State);
        Assert.NotEmpty(observations);
        Assert.All(observations, o => Assert.Equal((false, true), o));
        AssertSameAsSource(source, ["b.bin"]);
    }

    [Fact]
    public async Task RunAsync_AfterACrashMidCopy_ResumesWithoutCopyingCompleteFilesAgain()
    {
        var source = Sample();
        var dataset = StandInDatasets.Create(source);
        var failing = new PassThroughObjectReader();
        failing.FailingKeys.Add("c.bin");
        var first = await CopyAsync(dataset, failing, workers: 1);
        Assert.Equal(VolumeState.Failed, first.State);
        Assert.False(File.Exists(Path.Combine(_target, "c.bin")));
        Assert.False(File.Exists(StateFile(DatasetCopier.ReadyMarkerName)));
        // What kill -9 leaves behind: a half-written temp file and a torn record line.
        File.WriteAllBytes(Path.Combine(_target, ".d.bin" + DatasetCopier.PartialSuffix), [1, 2, 3]);
        File.AppendAllText(StateFile(DatasetCopier.CopiedRecordName), "12\t\"torn");

        var reader = new PassThroughObjectReader();
        var second = await CopyAsync(dataset, reader);

        Assert.Equal(VolumeState.Ready, second.State);
        Assert.False(reader.BytesRead.ContainsKey("a.bin"));
        Assert.False(reader.BytesRead.ContainsKey("b.bin"));
        Assert.Equal(source.Content("c.bin").Length, reader.BytesRead["c.bin"]);
        AssertSameAsSource(source, ["a.bin", "b.bin", "c.bin", "d.bin", "train/labels.csv"]);
        Assert.Empty(PartialFiles());
        Assert.True(File.Exists(StateFile(DatasetCopier.ReadyMarkerName)));
    }

    [Fact]
    public async Task RunAsync_ObjectChangedSinceLastCopy_IsCopiedAgain()
    {
        var source = Sample();
        var dataset = StandInDatasets.Create(source);
        Assert.Equal(VolumeState.Ready, (await CopyAsync(dataset, new PassThroughObjectReader())).State);
        source.Put("d.bin", "new content"u8.ToArray()); // new ETag

        var reader = new PassThroughObjectReader();
        Assert.Equal(VolumeState.Ready, (await CopyAsync(dataset, reader)).State);

        Assert.Equal(["d.bin"], reader.BytesRead.Keys);
        Assert.Equal("new content", File.ReadAllText(Path.Combine(_target, "d.bin")));
    }

    [Fact]
    public async Task RunAsync_DatasetLargerThanTheSizeLimit_FailsWithAClearErrorAndNoPartialFiles()
    {
        var source = Sample();

        var progress = await CopyAsync(StandInDatasets.Create(source, name: "imagenet"), new PassThroughObjectReader(), sizeLimit: 1024 * 1024);

        var status = progress.Snapshot();
        Assert.Equal(VolumeState.Failed, status.State);
        Assert.Contains("dataset 'imagenet' needs", status.Error, StringComparison.Ordinal);
        Assert.Contains("size limit is 1048576 bytes", status.Error, StringComparison.Ordinal);
        Assert.Empty(PartialFiles());
        Assert.False(File.Exists(StateFile(DatasetCopier.ReadyMarkerName)));
    }

    [Fact]
    public async Task RunAsync_VolumeRunsOutOfSpaceMidCopy_FailsAndKeepsOnlyCompleteFiles()
    {
        // A real small file system (tmpfs, 4 MiB) so the write hits ENOSPC; the free-space pre-check is bypassed.
        Assert.Equal(0, (await Shell.RunAsync("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", _target)).ExitCode);
        try
        {
            var source = Sample();
            var progress = await CopyAsync(StandInDatasets.Create(source), new PassThroughObjectReader(), floor: -100L * 1024 * 1024, workers: 1);

            var status = progress.Snapshot();
            Assert.Equal(VolumeState.Failed, status.State);
            Assert.Contains("ran out of space", status.Error, StringComparison.Ordinal);
            Assert.Empty(PartialFiles());
            Assert.False(File.Exists(StateFile(DatasetCopier.ReadyMarkerName)));
            foreach (var file in Directory.GetFiles(_target, "*.bin"))
            {
                var key = Path.GetFileName(file);
                Assert.Equal(SHA256.HashData(source.Content(key)), SHA256.HashData(File.ReadAllBytes(file)));
            }
        }
        finally
        {
            await Shell.RunAsync("umount", _target);
        }
    }

    [Theory]
    [InlineData("train/**/*.jpg", "train/cats/1.jpg", true)]
    [InlineData("train/**/*.jpg", "train/1.jpg", true)]
    [InlineData("train/*.jpg", "train/cats/1.jpg", false)]
    [InlineData("train/?.jpg", "train/1.jpg", true)]
    [InlineData("**", "any/thing", true)]
    [InlineData("*.csv", "dir/a.csv", false)]
    public void GlobMatches_Pattern_MatchesAsDocumented(string pattern, string key, bool expected) =>
        Assert.Equal(expected, DeclaredPaths.GlobMatches(pattern, key));

    /// <summary>Calls a hook before each read, to look at the target directory while a copy is in flight.</summary>
    private sealed class ObservingReader(IObjectReader inner, Action<RemoteObject, long> beforeRead) : IObjectReader
    {
        public Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken) =>
            inner.CopyToAsync(dataset, obj, offset, length, destination, cancellationToken);

        public ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            beforeRead(obj, offset);
            return inner.ReadAsync(dataset, obj, offset, destination, cancellationToken);
        }

        public Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken) =>
            inner.WarmAsync(dataset, obj, cancellationToken);
    }
}
