using System.Collections.Concurrent;
using System.Text;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume.Fuse;
using Fluid.Serverless.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>
/// Read-ahead across the small files of a directory, fed by the real directory cursor over a local directory listed
/// in pages, as `ls` through the FUSE view lists it. The reader stands in for the block cache: it records which files
/// were warmed.
/// </summary>
public sealed class SmallFileReadAheadTests : IDisposable
{
    private const int PageSize = 100;
    private readonly TempDirectory _root = new();
    private readonly RecordingReader _reader = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task ReadInListingOrder_AcrossManyListingPages_WarmsEveryFileFromTheThirdOn()
    {
        var keys = WriteFiles("small", 250);
        var (readAhead, source, dataset) = Create();
        await ListAndReadAllAsync(source, dataset, readAhead);

        // Files of the first page are found too, not only those of the last page listed, and the window runs on
        // across page ends: each file from the third on is warmed, once.
        Assert.Equal(keys[2..], _reader.Warmed.OrderBy(key => key, StringComparer.Ordinal));
        Assert.Equal(250, readAhead.Remembered);
    }

    [Fact]
    public async Task ListedAgain_StartsOver_AndTheNextReaderIsWarmedAheadAgain()
    {
        var keys = WriteFiles("small", 150);
        var (readAhead, source, dataset) = Create();
        await ListAndReadAllAsync(source, dataset, readAhead);

        _reader.Warmed.Clear();
        var objects = await ListAsync(source, "small/", readAhead);
        readAhead.OnFirstRead(dataset, objects[0]);
        readAhead.OnFirstRead(dataset, objects[1]);

        Assert.Equal(keys[2..(2 + SmallFileReadAhead.Window)], _reader.Warmed.OrderBy(key => key, StringComparer.Ordinal));
        Assert.Equal(150, readAhead.Remembered);
    }

    [Fact]
    public async Task ReadOutOfListingOrder_WarmsNothing()
    {
        WriteFiles("small", 40);
        var (readAhead, source, dataset) = Create();
        var objects = await ListAsync(source, "small/", readAhead);

        foreach (var index in new[] { 7, 3, 30, 12, 0, 25 })
        {
            readAhead.OnFirstRead(dataset, objects[index]);
        }

        Assert.Empty(_reader.Warmed);
    }

    [Fact]
    public void ManyFilesListed_RememberedStayWithinTheBound_AndTheLatestDirectoryIsKept()
    {
        var (readAhead, _, dataset) = Create();
        var huge = SyntheticPages("huge/", SmallFileReadAhead.MaxRememberedFiles + 2_000, pageSize: 1_000);
        foreach (var page in huge)
        {
            readAhead.OnPage("huge/", page);
        }

        Assert.Equal(SmallFileReadAhead.MaxRememberedFiles, readAhead.Remembered);

        var other = SyntheticPages("other/", 10, pageSize: 10);
        readAhead.OnPage("other/", other[0]);
        Assert.Equal(10, readAhead.Remembered);

        readAhead.OnFirstRead(dataset, other[0][0].Object!);
        readAhead.OnFirstRead(dataset, other[0][1].Object!);
        Assert.Equal(8, _reader.Warmed.Count);
    }

    private (SmallFileReadAhead ReadAhead, LocalObjectSource Source, Dataset Dataset) Create()
    {
        var source = new LocalObjectSource(_root.Path);
        return (new SmallFileReadAhead(_reader), source, StandInDatasets.Create(source));
    }

    /// <summary>Lists small/ to its end, then reads every file in listing order (a first read of each).</summary>
    private static async Task ListAndReadAllAsync(IObjectSource source, Dataset dataset, SmallFileReadAhead readAhead)
    {
        foreach (var obj in await ListAsync(source, "small/", readAhead))
        {
            readAhead.OnFirstRead(dataset, obj);
        }
    }

    private string[] WriteFiles(string directory, int count)
    {
        var keys = new string[count];
        for (var i = 0; i < count; i++)
        {
            keys[i] = $"{directory}/f{i:D5}.bin";
            _root.Write(keys[i], Encoding.UTF8.GetBytes($"file {i}"));
        }

        return keys;
    }

    /// <summary>Lists the directory to its end through the FUSE view's cursor, page by page, as a READDIR loop does.</summary>
    private static async Task<List<RemoteObject>> ListAsync(IObjectSource source, string prefix, SmallFileReadAhead readAhead)
    {
        var cursor = new DirectoryCursor(source, prefix, PageSize, readAhead.OnPage);
        var objects = new List<RemoteObject>();
        for (long index = 0; await cursor.GetAsync(index, CancellationToken.None) is { } entry; index++)
        {
            objects.Add(entry.Object!);
        }

        return objects;
    }

    private static List<List<DirectoryEntry>> SyntheticPages(string prefix, int files, int pageSize)
    {
        var pages = new List<List<DirectoryEntry>>();
        for (var start = 0; start < files; start += pageSize)
        {
            var page = new List<DirectoryEntry>();
            for (var i = start; i < Math.Min(files, start + pageSize); i++)
            {
                var name = $"f{i:D7}";
                page.Add(new DirectoryEntry(name, Encoding.UTF8.GetBytes(name), prefix + name, IsDirectory: false, new RemoteObject(prefix + name, 16, "\"e\"", DateTimeOffset.UnixEpoch)));
            }

            pages.Add(page);
        }

        return pages;
    }

    /// <summary>Records the keys warmed; a warm-up completes at once, so the read-ahead's concurrency limit never bites.</summary>
    private sealed class RecordingReader : IObjectReader
    {
        public ConcurrentBag<string> Warmed { get; } = [];

        public Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken) =>
            throw new NotSupportedException("read-ahead only warms");

        public ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            throw new NotSupportedException("read-ahead only warms");

        public Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken)
        {
            Warmed.Add(obj.Key);
            return Task.FromResult(obj.Size);
        }
    }
}
