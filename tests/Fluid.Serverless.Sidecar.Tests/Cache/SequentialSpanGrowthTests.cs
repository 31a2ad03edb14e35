using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// Remote requests a cold sequential read costs, counted at an in-memory remote that streams each ranged read as one
/// request. The options are the product defaults scaled from 4 MiB to 64 KiB blocks (so "64 MiB" is 16 blocks and
/// "1 GiB" 256): spans of 8-64 MiB, a 256 MiB window for any sequential reader, 8 streams, and a window of a long run
/// that grows with the run (up to twice what it read) up to cache.readAheadMaxBytes (512 MiB). The same reads with the window held at 256 MiB
/// are the comparison: the run-grown window must cost fewer requests, never more.
/// </summary>
public sealed class SequentialSpanGrowthTests : IAsyncLifetime
{
    private const int BlockSize = 64 * 1024;
    private const long ScaledMiB = BlockSize / 4; // a 4 MiB block is one 64 KiB block here
    private readonly TempDirectory _dir = new();
    private readonly CountingObjectSource _source = new() { StreamsRanges = true };
    private readonly Dataset _dataset;
    private DiskBlockCache _cache = null!;

    public SequentialSpanGrowthTests() => _dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "memory://test/" }, _source);

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

    [Theory]
    [InlineData(64, 8)]    // a 64 MiB file: within the short-run window, as before
    [InlineData(1024, 30)] // 1 GiB: spans grow from 32 to 64 MiB as the run passes 128 MiB (36 with the window held)
    public async Task FuseStyleSequentialRead_RequestsAsCounted(int scaledMiB, int expectedRequests)
    {
        var (obj, bytes) = Put($"seq-{scaledMiB}.bin", scaledMiB * ScaledMiB);
        await using var reader = NewReader(ScaledOptions());

        var copy = await ReadSequentiallyAsync(reader, obj);

        Assert.Equal(Sha(bytes), Sha(copy));
        Assert.Equal(obj.Size / BlockSize, _cache.GetStatistics().RemoteFetches);
        Assert.Equal(expectedRequests, _source.Reads);
    }

    [Fact]
    public async Task FuseStyleSequentialRead_1GiB_FewerRequestsThanAWindowHeldAt256MiB()
    {
        var (obj, _) = Put("held.bin", 1024 * ScaledMiB);
        await using (var held = NewReader(ScaledOptions() with { ReadAheadMaxBytes = 256 * ScaledMiB }))
        {
            await ReadSequentiallyAsync(held, obj);
        }

        var heldRequests = _source.Reads;
        _cache.Invalidate(_source.Identity, obj.Key);
        await using var grown = NewReader(ScaledOptions());
        await ReadSequentiallyAsync(grown, obj);

        Assert.Equal(36, heldRequests);
        Assert.Equal(30, _source.Reads - heldRequests);
    }

    [Theory]
    [InlineData(64, 8)]    // 8 streams of 8 MiB
    [InlineData(1024, 16)] // 8 streams of 64 MiB (32 of 32 MiB when the window was held at 256 MiB)
    public async Task GetOfTheWholeObject_RequestsAsCounted(int scaledMiB, int expectedRequests)
    {
        var (obj, bytes) = Put($"get-{scaledMiB}.bin", scaledMiB * ScaledMiB);
        await using var reader = NewReader(ScaledOptions());

        using var output = new MemoryStream();
        await reader.CopyToAsync(_dataset, obj, 0, obj.Size, output, default);

        Assert.Equal(Sha(bytes), Sha(output.ToArray()));
        Assert.Equal(expectedRequests, _source.Reads);
    }

    [Theory]
    [InlineData(64, 1)]    // one span of 64 MiB
    [InlineData(1024, 16)] // whole spans, 4 at a time
    public async Task Prefetch_AdjacentMissingBlocksGoOutAsWholeSpans(int scaledMiB, int expectedRequests)
    {
        var (obj, _) = Put($"warm-{scaledMiB}.bin", scaledMiB * ScaledMiB);
        await using var reader = NewReader(ScaledOptions());

        Assert.Equal(obj.Size, await reader.WarmAsync(_dataset, obj, default));

        Assert.Equal(expectedRequests, _source.Reads);
    }

    [Fact]
    public async Task Prefetch_AfterSomeBlocksWereRead_MissingRunsAreOneRequestEach()
    {
        var (obj, _) = Put("holes.bin", 64 * ScaledMiB);
        await using var reader = NewReader(ScaledOptions());
        var block = new byte[BlockSize];
        foreach (var index in new[] { 3, 9 })
        {
            // random reads: no read-ahead, one request each
            await reader.ReadAsync(_dataset, obj, index * (long)BlockSize, block, default);
        }

        await reader.WarmAsync(_dataset, obj, default);

        Assert.Equal(2 + 3, _source.Reads); // then 0-2, 4-8, 10-15
    }

    [Fact]
    public async Task FuseStyleSequentialRead_RemoteWithACostlyFirstByte_FewerLongerRequests()
    {
        // Every request waits 50 ms for its first byte, then streams from memory: a remote that charges per request,
        // as moto does (it builds the whole object for every ranged GET). Spans that follow the remote learn that
        // from the first requests and stop cutting the window into 8 streams.
        var (obj, bytes) = Put("costly.bin", 1024 * ScaledMiB);
        _source.ReadLatency = TimeSpan.FromMilliseconds(50);
        _source.StreamsAtMemorySpeed = true;
        await using var reader = NewReader(ScaledOptions() with { SpansFollowRemoteCost = true, ShortestCostSampleBytes = BlockSize });

        var copy = await ReadSequentiallyAsync(reader, obj);

        Assert.Equal(Sha(bytes), Sha(copy));
        Assert.Equal(obj.Size / BlockSize, _cache.GetStatistics().RemoteFetches);
        Assert.True(_source.Reads <= 12, $"{_source.Reads} requests, at blocks {string.Join(",", _source.ReadOffsets.Order().Select(o => o / BlockSize))}"); // 5-9 in practice; 30 with fixed spans (FuseStyleSequentialRead_RequestsAsCounted)
    }

    [Fact]
    public async Task LargeObjectAfterACheapRemoteWasLearned_NoSecondSpanBeforeItsOwnFirstAnswer()
    {
        // What small objects taught: a 2 ms first byte and 50 MiB/s, worth a few blocks, far less than the window. On
        // those figures alone the window would be cut into parallel streams at once; moto's wait grows with the
        // object, so a large object's spans wait for its own first answer. The remote holds every answer here, so
        // the count below does not depend on how fast this machine copies memory.
        var (large, bytes) = Put("large.bin", 1024 * ScaledMiB);
        await using var reader = NewReader(ScaledOptions() with { SpansFollowRemoteCost = true, ShortestCostSampleBytes = BlockSize });
        reader.RemoteCostOf(_source).Observe(TimeSpan.FromMilliseconds(2), 1024 * 1024, TimeSpan.FromMilliseconds(20));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _source.ReadGate = gate;

        // The kernel's FUSE read-ahead: 16 reads in order, each sent before the first is answered. Each call runs up to
        // its first wait before the next is made, so the reader sees them in order, as a growing sequential run.
        var copy = new byte[large.Size];
        var kernelReadAhead = new List<Task<int>>();
        for (var at = 0L; at < 16 * ScaledMiB; at += ScaledMiB)
        {
            kernelReadAhead.Add(reader.ReadAsync(_dataset, large, at, copy.AsMemory((int)at, (int)ScaledMiB), default).AsTask());
        }

        await WaitUntil(() => _source.Reads >= 1);
        await Task.Delay(300); // room for a wrong second span to be sent; a right reader sends none however long this is

        var requestsBeforeTheAnswer = _source.Reads;
        gate.SetResult();
        Assert.All(await Task.WhenAll(kernelReadAhead), read => Assert.Equal(ScaledMiB, read));
        for (var at = 16 * ScaledMiB; at < large.Size; at += ScaledMiB)
        {
            Assert.Equal(ScaledMiB, await reader.ReadAsync(_dataset, large, at, copy.AsMemory((int)at, (int)ScaledMiB), default));
        }

        Assert.Equal(1, requestsBeforeTheAnswer);
        Assert.Equal(Sha(bytes), Sha(copy));
    }

    [Fact]
    public void FirstByteWait_RisesFastAndFallsSlowly()
    {
        var cost = new RemoteRequestCost(shortestSampleBytes: BlockSize);
        cost.Observe(TimeSpan.FromMilliseconds(10), 1024 * 1024, TimeSpan.FromMilliseconds(20));

        // A longer wait moves the average half way: underrating a wait sends a costly remote many short spans.
        cost.ObserveFirstByte(TimeSpan.FromMilliseconds(50));
        Assert.Equal(30, cost.FirstByte.TotalMilliseconds, precision: 3);

        // A shorter one a quarter of the way: one quick answer does not make the remote look cheap.
        cost.ObserveFirstByte(TimeSpan.FromMilliseconds(10));
        Assert.Equal(25, cost.FirstByte.TotalMilliseconds, precision: 3);
    }

    [Theory]
    [InlineData(128, 0, 16)]    // unknown remote: 8 streams of the window
    [InlineData(128, 3, 16)]    // worth 3 blocks (a paced stream): the streams stay
    [InlineData(128, 40, 40)]   // worth 40 blocks: fewer, longer spans
    [InlineData(128, 5000, 128)] // worth more than the window: one span is the whole window
    [InlineData(512, 5000, 512)] // past fetchSpanBytes (16 blocks here), up to the window
    [InlineData(8, 5000, 8)]     // a short window stays short: the bound on over-fetch is the window's
    public void SpanBlocksFor_FollowsWhatTheRemoteIsWorth(long windowBlocks, long worthwhileBlocks, int expectedSpanBlocks)
    {
        Assert.Equal(expectedSpanBlocks, ScaledOptions().SpanBlocksFor(windowBlocks, BlockSize, worthwhileBlocks));
    }

    private async Task<byte[]> ReadSequentiallyAsync(ObjectReader reader, RemoteObject obj)
    {
        // A FUSE reader with 1 MiB reads; read-ahead settles after each read, so the counts are deterministic.
        var buffer = new byte[ScaledMiB];
        using var copy = new MemoryStream();
        for (long offset = 0; offset < obj.Size; offset += buffer.Length)
        {
            var read = await reader.ReadAsync(_dataset, obj, offset, buffer, default);
            copy.Write(buffer, 0, read);
            await WaitUntil(() => reader.ReadAheadInFlight == 0);
        }

        return copy.ToArray();
    }

    // Spans do not follow the remote here (SpansFollowRemoteCost is off): the counts are those of fixed spans, which
    // a remote's measured speed must not move; the costly-remote test turns it on.
    private static ObjectReaderOptions ScaledOptions() => new()
    {
        ReadAheadMemoryBytes = 16L * BlockSize,
        MinSpanBytes = 8 * ScaledMiB,
        MaxSpanBytes = SidecarDefaults.FetchSpanBytes / 64,
        MaxReadAheadBlocks = 64,
        ReadAheadStreams = SidecarDefaults.ReadAheadStreams,
        ReadAheadMaxBytes = SidecarDefaults.ReadAheadMaxBytes / 64,
    };

    private ObjectReader NewReader(ObjectReaderOptions options) => new(_cache, options, NullLogger<ObjectReader>.Instance, TimeProvider.System);

    private (RemoteObject Obj, byte[] Bytes) Put(string key, long size)
    {
        var bytes = new byte[size];
        new Random((int)size).NextBytes(bytes);
        return (_source.Put(key, bytes), bytes);
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Waits for a state, not for a duration: the bound only stops a broken test from hanging.
        for (var i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(2);
        }

        Assert.True(condition());
    }
}
