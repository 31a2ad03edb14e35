using System.IO.Pipelines;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class ObjectReaderTests : IAsyncLifetime
{
    private const int BlockSize = 64 * 1024;
    private readonly TempDirectory _dir = new();
    private readonly CountingObjectSource _source = new();
    private readonly Dataset _dataset;
    private DiskBlockCache _cache = null!;

    public ObjectReaderTests() => _dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "memory://test/" }, _source);

    public Task InitializeAsync()
    {
        _cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = _dir.Path, BlockSize = BlockSize, QuotaBytes = 1L << 30, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cache.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task CopyToAsync_RandomRanges_BytesEqualTheObject()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("r.bin", (10 * BlockSize) + 777);
        var random = new Random(42);
        var ranges = new List<(long Offset, long Length)> { (0, obj.Size), (obj.Size - 1, 1), (BlockSize - 1, 2), (0, 0), (3 * BlockSize, BlockSize) };
        for (var i = 0; i < 40; i++)
        {
            var offset = random.NextInt64(obj.Size);
            ranges.Add((offset, random.NextInt64(obj.Size - offset + 1)));
        }

        foreach (var (offset, length) in ranges)
        {
            using var output = new MemoryStream();
            await reader.CopyToAsync(_dataset, obj, offset, length, output, default);
            Assert.Equal(Sha(bytes.AsSpan((int)offset, (int)length)), Sha(output.ToArray()));
        }

        Assert.Equal(11, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_IntoAPipeBody_CachedRangesReadStraightIntoThePipe_BytesEqual()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("p.bin", (6 * BlockSize) + 321);
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, Stream.Null, default);
        var readsWhenCached = _source.Reads;
        var random = new Random(11);
        var ranges = new List<(long Offset, long Length)> { (0, obj.Size), (obj.Size - 1, 1), (BlockSize - 1, 2), (2 * BlockSize, BlockSize) };
        for (var i = 0; i < 30; i++)
        {
            var offset = random.NextInt64(obj.Size);
            ranges.Add((offset, random.NextInt64(1, obj.Size - offset + 1)));
        }

        foreach (var (offset, length) in ranges)
        {
            var (output, body, starts) = NewPipeBody();
            await reader.CopyToAsync(_dataset, obj, offset, length, body, default);
            await body.Writer.FlushAsync();

            Assert.Equal(Sha(bytes.AsSpan((int)offset, (int)length)), Sha(output.ToArray()));
            Assert.Equal(1, starts()); // the head went out once, before the first byte read into the pipe
        }

        Assert.Equal(readsWhenCached, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_IntoAPipeBody_BlockDamagedOnDisk_ServedFromTheRemoteAfterTheHead()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("d.bin", 3 * BlockSize);
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, Stream.Null, default);
        var readsWhenCached = _source.Reads;
        var files = Directory.GetFiles(_dir.Path, "*.blk", SearchOption.AllDirectories);
        Assert.Equal(3, files.Length);
        foreach (var file in files)
        {
            var content = await File.ReadAllBytesAsync(file);
            content[^100] ^= 0x40; // a payload byte: the header stays intact, only the CRC can tell
            await File.WriteAllBytesAsync(file, content);
        }

        var (output, body, starts) = NewPipeBody();
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, body, default);
        await body.Writer.FlushAsync();

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(1, starts());
        Assert.Equal(3, _cache.GetStatistics().CorruptBlocksDropped);
        Assert.Equal(readsWhenCached + 3, _source.Reads); // each damaged block fetched again, once
    }

    private static (MemoryStream Output, PipeBody Body, Func<int> Starts) NewPipeBody()
    {
        var output = new MemoryStream();
        var starts = 0;
        var body = new PipeBody(PipeWriter.Create(output), _ =>
        {
            starts++;
            return Task.CompletedTask;
        });
        return (output, body, () => starts);
    }

    [Fact]
    public async Task ReadAsync_RandomOffsetsAndSizes_BytesEqualAndShortOnlyAtTheEnd()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("f.bin", (6 * BlockSize) + 5);
        var random = new Random(7);
        for (var i = 0; i < 60; i++)
        {
            var offset = random.NextInt64(obj.Size + 10);
            var buffer = new byte[random.Next(1, 3 * BlockSize)];
            var read = await reader.ReadAsync(_dataset, obj, offset, buffer, default);

            var expected = (int)Math.Clamp(obj.Size - offset, 0, buffer.Length);
            Assert.Equal(expected, read);
            Assert.Equal(Sha(bytes.AsSpan((int)Math.Min(offset, obj.Size), expected)), Sha(buffer.AsSpan(0, read)));
        }
    }

    [Fact]
    public async Task CopyToAsync_ColdLargeObject_SpansInParallelAheadOfTheWriter()
    {
        _source.StreamsRanges = true;
        await using var reader = NewReader(readAheadMemory: 64L * BlockSize, spanBlocks: 4, maxReadAheadBlocks: 32);
        var (obj, bytes) = PutObject("cold.bin", 32 * BlockSize);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.ReadGate = gate;

        using var output = new MemoryStream();
        var copy = reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);

        // Before any byte arrives, the 32-block window is cut into the default 8 streams of 4 blocks: 8 requests
        // outstanding, not 32 (one per block) or 1.
        Assert.Equal(8, new ObjectReaderOptions().ReadAheadStreams);
        await WaitUntil(() => _source.InFlightReads == 8);
        gate.SetResult();
        await copy;

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(8, _source.Reads); // 32 blocks / 4 per span
        Assert.Equal(8, _cache.GetStatistics().RemoteRequests);
        Assert.Equal(32, _cache.GetStatistics().RemoteFetches);
    }

    [Fact]
    public void From_CacheConfig_ReadAheadStreamsFromTheConfigElseTheDefault()
    {
        Assert.Equal(16, ObjectReaderOptions.From(new CacheConfig { ReadAheadStreams = 16 }).ReadAheadStreams);
        Assert.Equal(SidecarDefaults.ReadAheadStreams, ObjectReaderOptions.From(new CacheConfig()).ReadAheadStreams);
        Assert.Equal(4, new ObjectReaderOptions { ReadAheadStreams = 16 }.SpanBlocksFor(64, 4 * 1024 * 1024)); // 256 MiB window: 16 spans of 16 MiB
    }

    [Theory]
    [InlineData(64, 8)]    // a 256 MiB window: 8 streams of 32 MiB
    [InlineData(4, 2)]     // a 16 MiB range: spans no shorter than 8 MiB, so 2 streams, not 4 of 4 MiB
    [InlineData(1, 2)]     // (the caller stops a span at the end of its range)
    [InlineData(1024, 16)] // a 4 GiB window: spans no longer than cache.fetchSpanBytes (64 MiB)
    public void SpanBlocksFor_DefaultOptionsWith4MiBBlocks_CutsTheWindowIntoEightStreamsWithin8To64MiB(long windowBlocks, int expected)
    {
        Assert.Equal(expected, new ObjectReaderOptions().SpanBlocksFor(windowBlocks, 4 * 1024 * 1024));
    }

    [Fact]
    public async Task CopyToAsync_SpanOfOneBlock_OneRequestPerBlock()
    {
        _source.StreamsRanges = true;
        await using var reader = NewReader(readAheadMemory: 64L * BlockSize, spanBlocks: 1);
        var (obj, bytes) = PutObject("perblock.bin", 12 * BlockSize);

        using var output = new MemoryStream();
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(12, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_MemoryBudgetOfTwoBlocks_AtMostThreeSpansInFlight()
    {
        _source.StreamsRanges = true;
        await using var reader = NewReader(readAheadMemory: 2L * BlockSize, spanBlocks: 2, readAheadStreams: 4);
        var (obj, bytes) = PutObject("budget.bin", 16 * BlockSize);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.ReadGate = gate;

        using var output = new MemoryStream();
        var copy = reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);
        await WaitUntil(() => _source.InFlightReads == 3 && reader.ReadAheadSkippedForBudget > 0);
        var inFlightWhileBlocked = _source.InFlightReads;
        gate.SetResult();
        await copy;

        Assert.Equal(3, inFlightWhileBlocked); // the span being written + one span per budget unit
        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(8, _source.Reads);
    }

    [Fact]
    public async Task ReadAsync_SequentialReads_ReadAheadFetchesWholeSpans()
    {
        _source.StreamsRanges = true;
        await using var reader = NewReader(readAheadMemory: 64L * BlockSize, spanBlocks: 4, maxReadAheadBlocks: 8, readAheadStreams: 2);
        var (obj, bytes) = PutObject("seq.bin", 64 * BlockSize);
        var buffer = new byte[BlockSize / 4];
        using var copy = new MemoryStream();

        // A FUSE-like reader: quarter-block reads in order, read-ahead settled after each (deterministic counts).
        for (long offset = 0; offset < obj.Size; offset += buffer.Length)
        {
            var read = await reader.ReadAsync(_dataset, obj, offset, buffer, default);
            copy.Write(buffer, 0, read);
            await WaitUntil(() => reader.ReadAheadInFlight == 0);
        }

        Assert.Equal(Sha(bytes), Sha(copy.ToArray()));

        // Each window is cut into 2 streams (spans of at most 4 blocks). While it doubles (1, 2, 4, 8) the reader's own
        // block plus the window is 2, 3, 5, 9 blocks: spans 0 and 1 (two blocks, two streams), 2, 3-4, 5-8; after
        // that a run at the far end of the window waits until it is a whole span: 9-12, …, 57-60 (13 spans), then
        // 61-63 (the end of the object). 19 requests for 64 blocks.
        Assert.Equal(64, _cache.GetStatistics().RemoteFetches);
        Assert.Equal(_source.Reads, (int)_cache.GetStatistics().RemoteRequests);
        Assert.Equal(5 + 13 + 1, _source.Reads);
    }

    [Fact]
    public async Task ReadAsync_RandomReads_NoReadAhead()
    {
        await using var reader = NewReader(readAheadMemory: 64L * BlockSize);
        var (obj, _) = PutObject("rand.bin", 16 * BlockSize);
        var buffer = new byte[4096];

        foreach (var block in new[] { 9, 3, 14, 6, 11 })
        {
            await reader.ReadAsync(_dataset, obj, (block * (long)BlockSize) + 100, buffer, default);
        }

        Assert.Equal(0, reader.ReadAheadStarted);
        Assert.Equal(5, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_32ConcurrentReadersOfAColdObject_EachBlockFetchedOnce()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("shared.bin", (8 * BlockSize) + 1);
        var expected = Sha(bytes);

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            using var output = new MemoryStream();
            await reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);
            return Sha(output.ToArray());
        })));

        Assert.All(results, r => Assert.Equal(expected, r));
        Assert.Equal(9, _source.Reads);
    }

    [Fact]
    public async Task ReadsUnderEvictionPressure_ConcurrentRandomRangesAndInvalidations_AlwaysCorrectBytes()
    {
        // Room for 6 of the 32 blocks: readers, read-ahead, eviction and invalidation all race on the same files.
        await using var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = Path.Combine(_dir.Path, "small"), BlockSize = BlockSize, QuotaBytes = (6L * BlockSize) + 8192, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);
        await using var reader = new ObjectReader(cache, new ObjectReaderOptions { ReadAheadMemoryBytes = 8L * BlockSize }, NullLogger<ObjectReader>.Instance, TimeProvider.System);
        var objects = Enumerable.Range(0, 4).Select(i => PutObject($"p{i}.bin", (8 * BlockSize) - i)).ToArray();

        var failures = await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var bad = 0;
            for (var i = 0; i < 25; i++)
            {
                var (obj, bytes) = objects[random.Next(objects.Length)];
                var offset = random.NextInt64(obj.Size);
                var length = random.NextInt64(Math.Min(obj.Size - offset, 3L * BlockSize) + 1);
                if (worker == 0 && i % 5 == 0)
                {
                    cache.Invalidate(_source.Identity, obj.Key);
                }

                using var output = new MemoryStream();
                await reader.CopyToAsync(_dataset, obj, offset, length, output, default);
                bad += Sha(output.ToArray()) == Sha(bytes.AsSpan((int)offset, (int)length)) ? 0 : 1;
            }

            return bad;
        })));

        Assert.All(failures, f => Assert.Equal(0, f));
        await WaitUntil(() => reader.ReadAheadInFlight == 0);
        var stats = cache.GetStatistics();
        Assert.True(stats.UsedBytes <= stats.QuotaBytes, $"{stats.UsedBytes} used > {stats.QuotaBytes} quota");
        Assert.True(stats.Evictions > 0);
        Assert.Equal(0, stats.CorruptBlocksDropped);
        var onDisk = Directory.GetFiles(Path.Combine(_dir.Path, "small"), "*.blk", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.Equal(stats.UsedBytes, onDisk);
    }

    [Fact]
    public async Task WarmAsync_ThenReads_NoRemoteTrafficAndSecondWarmFetchesNothing()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("warm.bin", (5 * BlockSize) + 3);

        Assert.Equal(obj.Size, await reader.WarmAsync(_dataset, obj, default));
        var readsAfterWarm = _source.Reads;
        Assert.Equal(0, await reader.WarmAsync(_dataset, obj, default));
        using var output = new MemoryStream();
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(6, readsAfterWarm);
        Assert.Equal(readsAfterWarm, _source.Reads);
    }

    [Fact]
    public async Task CopyToAsync_CachedObjectWithBigBlocks_StreamsFromDiskInSmallPieces()
    {
        const int bigBlock = 4 * ObjectReader.StreamPieceSize;
        await using var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = Path.Combine(_dir.Path, "big"), BlockSize = bigBlock, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);
        await using var reader = new ObjectReader(cache, new ObjectReaderOptions(), NullLogger<ObjectReader>.Instance, TimeProvider.System);
        var (obj, bytes) = PutObject("big.bin", (3 * bigBlock) + 12_345);
        await reader.WarmAsync(_dataset, obj, default);

        using var output = new RecordingStream();
        await reader.CopyToAsync(_dataset, obj, 100, obj.Size - 100, output, default);

        Assert.Equal(Sha(bytes.AsSpan(100)), Sha(output.ToArray()));
        Assert.True(output.LargestWrite <= ObjectReader.StreamPieceSize, $"largest write {output.LargestWrite}");
        Assert.Equal(4, _source.Reads);
        Assert.Equal(4, cache.GetStatistics().Hits); // one per block, however many pieces it was streamed in
    }

    [Fact]
    public async Task CopyToAsync_DestinationFailsMidway_ErrorPropagatesAndNextReadIsCorrect()
    {
        await using var reader = NewReader();
        var (obj, bytes) = PutObject("broken.bin", 6 * BlockSize);

        await Assert.ThrowsAsync<IOException>(() => reader.CopyToAsync(_dataset, obj, 0, obj.Size, new FailingStream(BlockSize + 1), default));
        using var output = new MemoryStream();
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
    }

    [Fact]
    public async Task InvalidateObject_AfterAnOverwrite_ReadersSeeTheNewVersion()
    {
        var metadata = new MetadataCachingObjectSource(_source, TimeSpan.FromMinutes(5), immutable: false, TimeProvider.System);
        var dataset = new Dataset(new DatasetConfig { Name = "ds" }, metadata);
        await using var reader = NewReader();
        var (_, _) = PutObject("w.bin", BlockSize + 10);
        var old = (await metadata.HeadAsync("w.bin", default))!;
        await reader.WarmAsync(dataset, old, default);
        var newer = RandomNumberGenerator.GetBytes(2 * BlockSize);
        _source.Put("w.bin", newer);

        _cache.InvalidateObject(dataset, "w.bin");

        var current = (await metadata.HeadAsync("w.bin", default))!;
        using var output = new MemoryStream();
        await reader.CopyToAsync(dataset, current, 0, current.Size, output, default);
        Assert.Equal(Sha(newer), Sha(output.ToArray()));
        Assert.False(_cache.Contains(KeyOf(old, 0)));
        Assert.Equal(2, _source.Heads);
    }

    [Fact]
    public async Task CopyToAsync_RangePastTheEnd_ArgumentOutOfRange()
    {
        await using var reader = NewReader();
        var (obj, _) = PutObject("small.bin", 100);

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => reader.CopyToAsync(_dataset, obj, 50, 51, Stream.Null, default));
        Assert.Contains("small.bin", error.Message, StringComparison.Ordinal);
    }

    // Spans may be as short as one block here (the product's floor is 8 MiB, 128 of these 64 KiB blocks).
    private ObjectReader NewReader(long readAheadMemory = 16L * BlockSize, int spanBlocks = 16, int maxReadAheadBlocks = 8, int readAheadStreams = 8) =>
        new(
            _cache,
            new ObjectReaderOptions
            {
                ReadAheadMemoryBytes = readAheadMemory,
                MaxSpanBytes = spanBlocks * (long)BlockSize,
                MinSpanBytes = BlockSize,
                MaxReadAheadBlocks = maxReadAheadBlocks,
                ReadAheadStreams = readAheadStreams,
            },
            NullLogger<ObjectReader>.Instance,
            TimeProvider.System);

    private (RemoteObject Obj, byte[] Bytes) PutObject(string key, int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return (_source.Put(key, bytes), bytes);
    }

    private BlockKey KeyOf(RemoteObject obj, long index) => new(_source.Identity, obj.Key, obj.ETag, index);

    private static string Sha(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Waits for a state, not for a duration: the bound only stops a broken test from hanging.
        for (var i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(5);
        }

        Assert.True(condition());
    }

    /// <summary>Remembers the largest single write (how much the reader held at once).</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public int LargestWrite { get; private set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>A destination that breaks after some bytes, like a client that disconnects.</summary>
    private sealed class FailingStream(int failAfter) : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Length + buffer.Length > failAfter)
            {
                throw new IOException("client went away");
            }

            return base.WriteAsync(buffer, cancellationToken);
        }
    }
}
