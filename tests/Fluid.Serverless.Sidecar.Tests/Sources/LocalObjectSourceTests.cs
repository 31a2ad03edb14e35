using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

public sealed class LocalObjectSourceTests : IDisposable
{
    private readonly TempDirectory outside = new();
    private readonly TempDirectory data = new();

    public void Dispose()
    {
        data.Dispose();
        outside.Dispose();
    }

    [Fact]
    public async Task PutAsync_UploadInFlight_NoTempFileInTheDatasetOrItsListing_AbandonedTempFilesSwept()
    {
        data.Write("dir/existing.bin", RandomBytes(10, seed: 3));
        var staging = System.IO.Path.Combine(data.Path, LocalObjectSource.StagingDirectoryName);
        Directory.CreateDirectory(staging);
        var leftByACrash = System.IO.Path.Combine(staging, "left-by-a-killed-process");
        File.WriteAllBytes(leftByACrash, [1, 2, 3]);
        File.SetLastWriteTimeUtc(leftByACrash, DateTime.UtcNow - LocalObjectSource.AbandonedTempFileAge - TimeSpan.FromMinutes(1));
        var source = new LocalObjectSource(data.Path);
        var content = RandomBytes((3 * 1024 * 1024) + 5, seed: 4);
        string[] entriesDuring = [];
        string[] keysDuring = [];
        var body = new PausingStream(content, pauseAfter: 1024 * 1024, async () =>
        {
            // What another NFS client (ls) and an app listing the dataset see while the body is half written.
            entriesDuring = [.. Directory.GetFileSystemEntries(System.IO.Path.Combine(data.Path, "dir")).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal)!];
            keysDuring = [.. (await source.ListAsync(new ListRequest("", null, null, 1000), CancellationToken.None)).Objects.Select(o => o.Key)];
        });

        await source.PutAsync("dir/new.bin", body, ObjectWriteOptions.None, CancellationToken.None);

        Assert.Equal(["existing.bin"], entriesDuring);
        Assert.Equal(["dir/existing.bin"], keysDuring);
        Assert.False(File.Exists(leftByACrash));
        Assert.Empty(Directory.GetFiles(staging));
        var after = await source.ListAsync(new ListRequest("", null, null, 1000), CancellationToken.None);
        Assert.Equal(["dir/existing.bin", "dir/new.bin"], after.Objects.Select(o => o.Key));
        Assert.Equal(Sha256(content), Sha256(File.ReadAllBytes(System.IO.Path.Combine(data.Path, "dir", "new.bin"))));
        Assert.Null(await source.HeadAsync(LocalObjectSource.StagingDirectoryName + "/anything", CancellationToken.None));
    }

    /// <summary>A body that runs <c>paused</c> once after <c>pauseAfter</c> bytes were read, as a slow client would leave an upload half done.</summary>
    private sealed class PausingStream(byte[] content, int pauseAfter, Func<Task> paused) : Stream
    {
        private int _position;
        private bool _pausedOnce;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => content.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= pauseAfter && !_pausedOnce)
            {
                _pausedOnce = true;
                await paused();
            }

            var limit = _pausedOnce ? content.Length : pauseAfter;
            var count = Math.Min(buffer.Length, limit - _position);
            content.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task ReadAsync_ChunksAtOffsets_BytesEqualFile()
    {
        var content = RandomBytes(3 * 1024 * 1024 + 17, seed: 1);
        data.Write("deep/dir/file with space+%.bin", content);
        var source = new LocalObjectSource(data.Path);

        var obj = await source.HeadAsync("deep/dir/file with space+%.bin", CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal(content.Length, obj.Size);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, chunk: 1024 * 1024)));
    }

    [Fact]
    public async Task HeadAsync_MissingKeyOrDirectory_ReturnsNull()
    {
        data.Write("dir/a.txt", "a");
        var source = new LocalObjectSource(data.Path);

        Assert.Null(await source.HeadAsync("dir/missing.txt", CancellationToken.None));
        Assert.Null(await source.HeadAsync("dir", CancellationToken.None));
        Assert.Null(await source.HeadAsync("dir/a.txt/below", CancellationToken.None));
    }

    [Theory]
    [InlineData("../secret.txt")]
    [InlineData("dir/../../secret.txt")]
    [InlineData("./dir/a.txt")]
    [InlineData("dir//a.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("dir/a.txt\0")]
    [InlineData("")]
    public async Task HeadAsync_TraversalOrAbsoluteOrNulKey_ReturnsNullAndReadsNothing(string key)
    {
        outside.Write("secret.txt", "secret");
        var root = Path.Join(outside.Path, "root");
        Directory.CreateDirectory(Path.Join(root, "dir"));
        File.WriteAllText(Path.Join(root, "dir", "a.txt"), "a");
        var source = new LocalObjectSource(root);

        Assert.Null(await source.HeadAsync(key, CancellationToken.None));
        var forged = new RemoteObject(key, 6, "\"x\"", DateTimeOffset.UnixEpoch);
        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(forged, 0, new byte[6], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task SymlinkOutsideRoot_IsNeitherListedNorReadable()
    {
        outside.Write("secret.txt", "secret");
        Directory.CreateDirectory(Path.Join(outside.Path, "secret-dir"));
        outside.Write("secret-dir/inner.txt", "inner");
        data.Write("ok.txt", "ok");
        File.CreateSymbolicLink(Path.Join(data.Path, "escape.txt"), Path.Join(outside.Path, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Join(data.Path, "escape-dir"), Path.Join(outside.Path, "secret-dir"));
        Directory.CreateSymbolicLink(Path.Join(data.Path, "relative-escape"), "../");
        var source = new LocalObjectSource(data.Path);

        Assert.Null(await source.HeadAsync("escape.txt", CancellationToken.None));
        Assert.Null(await source.HeadAsync("escape-dir/inner.txt", CancellationToken.None));
        Assert.Null(await source.HeadAsync("relative-escape/" + Path.GetFileName(outside.Path) + "/secret.txt", CancellationToken.None));
        var forged = new RemoteObject("escape-dir/inner.txt", 5, "\"x\"", DateTimeOffset.UnixEpoch);
        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(forged, 0, new byte[5], CancellationToken.None).AsTask());
        var (keys, prefixes, _) = await ListAllAsync(source, "", null, 1000);
        Assert.Equal(["ok.txt"], keys);
        Assert.Empty(prefixes);
    }

    [Fact]
    public async Task SymlinkInsideRoot_IsListedAndReadable()
    {
        data.Write("real/file.txt", "hello");
        File.CreateSymbolicLink(Path.Join(data.Path, "alias.txt"), "real/file.txt");
        Directory.CreateSymbolicLink(Path.Join(data.Path, "real/loop"), "..");
        var source = new LocalObjectSource(data.Path);

        var obj = await source.HeadAsync("alias.txt", CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal("hello"u8.ToArray(), await ReadAllAsync(source, obj, 1024));
        var (keys, _, _) = await ListAllAsync(source, "", null, 1000);
        Assert.Contains("alias.txt", keys);
        Assert.Contains("real/file.txt", keys);
        // A link back to an ancestor would make the tree infinite: it is not walked.
        Assert.DoesNotContain(keys, k => k.StartsWith("real/loop/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ListAsync_MixedNames_ReturnsUtf8BinaryOrder()
    {
        string[] names = ["a", "a-b", "a.txt", "a0", "a/x", "a/y/z", "B", "é", "\uFFFD", "\U0001F600", "\uE000", "z z", "~"];
        foreach (var name in names)
        {
            data.Write(name == "a" ? "a-file-renamed" : name, name);
        }

        var source = new LocalObjectSource(data.Path);
        var (keys, _, _) = await ListAllAsync(source, "", null, 1000);

        var expected = names.Select(n => n == "a" ? "a-file-renamed" : n).ToList();
        expected.Sort(CompareUtf8);
        Assert.Equal(expected, keys);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(1000)]
    public async Task ListAsync_PagedWithDelimiter_EqualsOnePassWithRollUp(int maxKeys)
    {
        foreach (var key in new[] { "top.txt", "photos/2024/a.jpg", "photos/2024/b.jpg", "photos/index.html", "photos-old.txt", "videos/v.mp4", "z.txt" })
        {
            data.Write(key, key);
        }

        Directory.CreateDirectory(Path.Join(data.Path, "empty/nested"));
        var source = new LocalObjectSource(data.Path);

        var root = await ListAllAsync(source, "", "/", maxKeys);
        var photos = await ListAllAsync(source, "photos/", "/", maxKeys);
        var partial = await ListAllAsync(source, "pho", "/", maxKeys);

        Assert.Equal(["photos-old.txt", "top.txt", "z.txt"], root.Keys);
        Assert.Equal(["photos/", "videos/"], root.Prefixes);
        Assert.Equal(["photos/index.html"], photos.Keys);
        Assert.Equal(["photos/2024/"], photos.Prefixes);
        Assert.Equal(["photos-old.txt"], partial.Keys);
        Assert.Equal(["photos/"], partial.Prefixes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task ListAsync_FlatPagedWithPrefix_ReturnsEveryKeyOnce(int maxKeys)
    {
        var all = Enumerable.Range(0, 9).Select(i => $"p/{i % 3}/f{i}").Append("p/x").Append("q/other").ToList();
        foreach (var key in all)
        {
            data.Write(key, key);
        }

        var source = new LocalObjectSource(data.Path);
        var (keys, prefixes, pages) = await ListAllAsync(source, "p/", null, maxKeys);

        var expected = all.Where(k => k.StartsWith("p/", StringComparison.Ordinal)).ToList();
        expected.Sort(CompareUtf8);
        Assert.Equal(expected, keys);
        Assert.Empty(prefixes);
        Assert.Equal((expected.Count + maxKeys - 1) / maxKeys, pages);
    }

    [Fact]
    public async Task ListAsync_StartAfterInsideDirectory_ResumesAfterThatKey()
    {
        foreach (var key in new[] { "a/1", "a/2", "a/3", "b/1" })
        {
            data.Write(key, key);
        }

        var source = new LocalObjectSource(data.Path);
        var flat = await source.ListAsync(new ListRequest("", null, "a/2", 1000), CancellationToken.None);
        var rolled = await source.ListAsync(new ListRequest("", "/", "a/2", 1000), CancellationToken.None);

        Assert.Equal(["a/3", "b/1"], flat.Objects.Select(o => o.Key));
        Assert.False(flat.IsTruncated);
        Assert.Equal(["a/", "b/"], rolled.CommonPrefixes);
    }

    [Fact]
    public async Task ReadAsync_FileReplacedWithSameSizeAndMtime_ThrowsRemoteObjectChanged()
    {
        var path = data.Write("model.bin", RandomBytes(4096, seed: 2));
        var source = new LocalObjectSource(data.Path);
        var before = await source.HeadAsync("model.bin", CancellationToken.None);
        Assert.NotNull(before);

        // What rsync -a does: write a new file, keep size and mtime, rename it over the old one (new inode).
        var replacement = data.Write("model.bin.tmp", RandomBytes(4096, seed: 3));
        File.SetLastWriteTimeUtc(replacement, File.GetLastWriteTimeUtc(path));
        File.Move(replacement, path, overwrite: true);

        var after = await source.HeadAsync("model.bin", CancellationToken.None);
        Assert.NotNull(after);
        Assert.NotEqual(before.ETag, after.ETag);
        await Assert.ThrowsAsync<RemoteObjectChangedException>(() => source.ReadAsync(before, 0, new byte[4096], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task HeadAsync_UnchangedFile_SameQuotedETagEachTime()
    {
        data.Write("same.txt", "same");
        var source = new LocalObjectSource(data.Path);

        var first = await source.HeadAsync("same.txt", CancellationToken.None);
        var second = await new LocalObjectSource(data.Path).HeadAsync("same.txt", CancellationToken.None);

        Assert.NotNull(first);
        Assert.Equal(first.ETag, second?.ETag);
        Assert.Matches("^\"[0-9a-f]{16}\"$", first.ETag);
    }

    [Fact]
    public async Task ReadAsync_DeletedFile_ThrowsRemoteObjectNotFound()
    {
        var path = data.Write("gone.txt", "gone");
        var source = new LocalObjectSource(data.Path);
        var obj = await source.HeadAsync("gone.txt", CancellationToken.None);
        File.Delete(path);

        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(obj!, 0, new byte[4], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task RootIsSymlink_KeysStillResolve()
    {
        data.Write("in.txt", "in");
        var link = Path.Join(outside.Path, "root-link");
        Directory.CreateSymbolicLink(link, data.Path);
        var source = new LocalObjectSource(link);

        Assert.NotNull(await source.HeadAsync("in.txt", CancellationToken.None));
    }
}
