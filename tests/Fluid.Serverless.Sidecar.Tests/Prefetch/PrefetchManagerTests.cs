using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public sealed class PrefetchManagerTests : IDisposable
{
    private readonly TempDataset _data = new();
    private readonly CountingObjectSource _source;
    private readonly MemoryBlockCache _cache = new(4096, long.MaxValue);

    public PrefetchManagerTests()
    {
        for (var i = 0; i < 30; i++)
        {
            _data.Write($"train/{i:D2}.bin", 5000);
        }

        _source = new CountingObjectSource(new LocalObjectSource(_data.Root));
    }

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Readiness_WaitForReady_FalseUntilEveryConfigJobIsComplete()
    {
        using var manager = NewManager(new PrefetchConfig { WaitForReady = true, Workers = 2 });
        Assert.False(manager.GetReadiness().Ready);
        Assert.Contains("not started", manager.GetReadiness().Reason, StringComparison.Ordinal);

        var gate = new TaskCompletionSource();
        _source.ReadGate = gate;
        manager.Follow(Snapshot(1, Dataset("ds", "train/")));
        var job = Assert.Single(manager.List());

        var (ready, reason) = manager.GetReadiness();
        Assert.False(ready);
        Assert.Contains($"prefetch {job.Id} of dataset 'ds'", reason, StringComparison.Ordinal);

        gate.SetResult();
        Assert.True(manager.TryGet(job.Id, out var running));
        await running.Completion;

        Assert.Equal((true, "prefetch complete"), manager.GetReadiness());
        Assert.True(manager.Snapshot().Ready);
    }

    [Fact]
    public async Task Readiness_JobFailed_StaysNotReadyAndSaysWhy()
    {
        _source.FailingKeys.Add("train/07.bin");
        using var manager = NewManager(new PrefetchConfig { WaitForReady = true });
        manager.Follow(Snapshot(1, Dataset("ds", "train/")));

        await WaitAllAsync(manager);

        var (ready, reason) = manager.GetReadiness();
        Assert.False(ready);
        Assert.Contains("Failed", reason, StringComparison.Ordinal);
        Assert.Contains("train/07.bin", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Readiness_NoGating_ReadyBeforeAnything()
    {
        using var manager = NewManager(new PrefetchConfig { WaitForReady = false });
        Assert.True(manager.GetReadiness().Ready);
    }

    [Fact]
    public async Task Follow_SameSnapshotTwice_StartsOneJob()
    {
        using var manager = NewManager(new PrefetchConfig());
        var snapshot = Snapshot(1, Dataset("ds", "train/"));

        manager.Follow(snapshot);
        manager.Follow(snapshot);
        await WaitAllAsync(manager);

        Assert.Single(manager.List());
        Assert.Equal(30, _source.ReadOrder.Count);
    }

    [Fact]
    public async Task Follow_DatasetChangedOrRemoved_CancelsOldJobStartsNew()
    {
        using var manager = NewManager(new PrefetchConfig());
        var gate = new TaskCompletionSource();
        _source.ReadGate = gate;
        manager.Follow(Snapshot(1, Dataset("a", "train/"), Dataset("b", "train/")));
        var first = manager.List().ToDictionary(p => p.Dataset, p => p.Id);

        // "a" now prefetches another path (a new Dataset object), "b" is gone.
        manager.Follow(Snapshot(2, Dataset("a", "train/0*")));
        gate.SetResult();
        await WaitAllAsync(manager);

        Assert.True(manager.TryGet(first["b"], out _) is false);
        var jobs = manager.List();
        var current = Assert.Single(jobs);
        Assert.Equal("a", current.Dataset);
        Assert.NotEqual(first["a"], current.Id);
        Assert.Equal(["train/0*"], current.Paths);
        Assert.Equal(PrefetchPhase.Complete, current.Phase);
        Assert.Equal(10, current.FilesDone);
    }

    [Fact]
    public async Task Follow_DatasetRemoved_CancelsItsAdminJobs()
    {
        using var manager = NewManager(new PrefetchConfig());
        var gate = new TaskCompletionSource();
        _source.ReadGate = gate;
        var dataset = Dataset("a", []);
        manager.Follow(Snapshot(1, dataset));
        var admin = manager.StartAdminJob(dataset, PrefetchEntries.Parse("train/"));

        manager.Follow(Snapshot(2));
        await admin.Completion;

        Assert.Equal(PrefetchPhase.Cancelled, admin.GetProgress().Phase);
    }

    [Fact]
    public void Follow_InvalidConfigEntry_JobFailedWithReasonNotSkipped()
    {
        using var manager = NewManager(new PrefetchConfig { WaitForReady = true });
        manager.Follow(Snapshot(1, Dataset("ds", "../etc/")));

        var job = Assert.Single(manager.List());
        Assert.Equal(PrefetchPhase.Failed, job.Phase);
        Assert.Contains("'../etc/'", job.Message, StringComparison.Ordinal);
        Assert.False(manager.GetReadiness().Ready);
    }

    [Theory]
    [InlineData("MaxQueuedAdminFiles", 20, 0, 30)]
    [InlineData("MaxQueuedAdminBytes", 0, 100_000, 150_000)]
    public async Task TryStartAdminJob_QueuedWorkOverTheCap_RefusedNamingTheLimit_UntilTheJobEnds(string limit, long maxFiles, long maxBytes, long queued)
    {
        var options = new PrefetchOptions
        {
            RetryBaseDelay = TimeSpan.FromMilliseconds(1),
            MaxQueuedAdminFiles = maxFiles > 0 ? maxFiles : long.MaxValue,
            MaxQueuedAdminBytes = maxBytes > 0 ? maxBytes : long.MaxValue,
        };
        using var manager = NewManager(new PrefetchConfig(), options);
        _source.ReadGate = new TaskCompletionSource();
        var dataset = Dataset("a", []);
        manager.Follow(Snapshot(1, dataset));
        Assert.True(manager.TryStartAdminJob(dataset, PrefetchEntries.Parse("train/"), out var first, out var none));
        Assert.Null(none);
        while (!first.GetProgress().TotalsFinal)
        {
            await Task.Delay(10);
        }

        Assert.False(manager.TryStartAdminJob(dataset, PrefetchEntries.Parse("train/0*"), out _, out var refused));
        Assert.Equal(limit, refused!.Limit);
        Assert.Equal(queued, refused.Current);
        Assert.Contains(limit, refused.Message, StringComparison.Ordinal);

        first.Cancel();
        await first.Completion;
        Assert.True(manager.TryStartAdminJob(dataset, PrefetchEntries.Parse("train/0*"), out _, out _));
        _source.ReadGate.SetResult();
    }

    private PrefetchManager NewManager(PrefetchConfig config, PrefetchOptions? options = null) =>
        new(config, new BlockCacheObjectReader(_cache), _cache, TimeProvider.System, NullLoggerFactory.Instance, options ?? new PrefetchOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1) });

    private Dataset Dataset(string name, params string[] prefetch) =>
        new(new DatasetConfig { Name = name, Source = "local://" + _data.Root, Prefetch = prefetch }, _source);

    private static DatasetSnapshot Snapshot(long generation, params Dataset[] datasets) =>
        new(datasets.ToDictionary(d => d.Name, StringComparer.Ordinal), generation);

    private static async Task WaitAllAsync(PrefetchManager manager)
    {
        foreach (var progress in manager.List())
        {
            Assert.True(manager.TryGet(progress.Id, out var job));
            await job.Completion;
        }
    }
}
