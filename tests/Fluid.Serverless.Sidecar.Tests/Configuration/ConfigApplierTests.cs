using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Tests.Prefetch;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public sealed class ConfigApplierTests : IDisposable
{
    private readonly TempDataset _a = new();
    private readonly TempDataset _b = new();
    private readonly StandInDatasetRegistry _registry = new();
    private readonly StandInSourceFactory _sources = new();
    private readonly FakeTimeProvider _time = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void Apply_UnchangedDataset_KeepsSameDatasetObject()
    {
        var applier = NewApplier();
        var first = applier.Apply(Config(Dataset("one", _a), Dataset("two", _b)));

        var second = applier.Apply(Config(Dataset("one", _a), Dataset("two", _b)));

        Assert.Equal(first.Generation + 1, second.Generation);
        Assert.Same(first.Datasets["one"], second.Datasets["one"]);
        Assert.Same(first.Datasets["two"], second.Datasets["two"]);
        Assert.Equal(2, _sources.Created.Count);
    }

    [Fact]
    public void Apply_OnlyPrefetchChanged_NewDatasetSameSource()
    {
        var applier = NewApplier();
        var first = applier.Apply(Config(Dataset("one", _a)));

        var second = applier.Apply(Config(Dataset("one", _a) with { Prefetch = ["x/"] }));

        Assert.NotSame(first.Datasets["one"], second.Datasets["one"]);
        Assert.Same(first.Datasets["one"].Source, second.Datasets["one"].Source);
        Assert.Single(_sources.Created);
    }

    [Fact]
    public async Task Apply_SourceSwitched_NewSourceOldDisposedOnlyAfterGrace()
    {
        var applier = NewApplier(grace: TimeSpan.FromMinutes(10));
        var first = applier.Apply(Config(Dataset("one", _a)));
        var old = (CountingObjectSource)first.Datasets["one"].Source;

        var second = applier.Apply(Config(Dataset("one", _b)));

        Assert.NotSame(old, second.Datasets["one"].Source);
        Assert.NotEqual(old.Identity, second.Datasets["one"].Source.Identity);
        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.False(old.Disposed);
        _time.Advance(TimeSpan.FromMinutes(1));
        await WaitUntilAsync(() => old.Disposed);
        Assert.False(((CountingObjectSource)second.Datasets["one"].Source).Disposed);
    }

    [Fact]
    public void Apply_OneSourceCannotBeBuilt_NothingPublishedNewSourcesDisposed()
    {
        var applier = NewApplier();
        var first = applier.Apply(Config(Dataset("one", _a)));

        var error = Assert.Throws<InvalidOperationException>(() => applier.Apply(Config(
            Dataset("one", _b),
            new DatasetConfig { Name = "bad", Source = "ftp://host/x" })));

        Assert.Contains("dataset 'bad'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ftp://host/x", error.Message, StringComparison.Ordinal);
        Assert.Same(first, _registry.Current);
        var createdForRejected = _sources.Created[1];
        Assert.True(createdForRejected.Disposed);
        Assert.False(((CountingObjectSource)first.Datasets["one"].Source).Disposed);
    }

    /// <summary>
    /// The live switch end to end: kubelet swaps the annotations file; the watcher sees it; the applier publishes a
    /// snapshot whose dataset reads the new source; a download that started on the old snapshot completes with the
    /// old bytes; prefetch follows the new source; the old source's cached blocks stay valid under its identity.
    /// </summary>
    [Fact]
    public async Task LiveSwitch_SymlinkSwap_NewRequestsSeeNewSourceInFlightReadFinishesOnOld()
    {
        var oldBytes = _a.Write("model.bin", 5 * 4096 + 7, seed: 1);
        var newBytes = _b.Write("model.bin", 3 * 4096, seed: 2);
        using var podInfo = new KubeletProjectedDirectory();
        podInfo.WriteConfig(Config(Dataset("models", _a) with { Prefetch = ["model.bin"] }));

        var cache = new MemoryBlockCache(4096, long.MaxValue);
        var reader = new BlockCacheObjectReader(cache);
        using var prefetch = new PrefetchManager(new PrefetchConfig(), reader, cache, TimeProvider.System, NullLoggerFactory.Instance);
        _registry.Changed += prefetch.Follow;
        var applier = NewApplier(prefetch);
        using var watcher = new ConfigFileWatcher(
            new ConfigFileWatcherOptions { Path = podInfo.AnnotationsPath, UseFileSystemEvents = false, PollInterval = TimeSpan.FromHours(1) },
            MinimalSidecarConfigValidator.Validate,
            TimeProvider.System,
            NullLogger<ConfigFileWatcher>.Instance);
        watcher.ConfigChanged += config => applier.Apply(config);
        Assert.True(watcher.TryLoadInitial(out var initial, out var error), error);
        applier.Apply(initial);
        await WaitForPrefetchAsync(prefetch);

        // A long download on the old snapshot, held mid-way by a gate on the old source.
        Assert.True(_registry.Current.TryGet("models", out var oldDataset));
        var oldSource = (CountingObjectSource)oldDataset.Source;
        cache.Invalidate(oldSource.Identity, "model.bin"); // make the download go to the remote
        var oldObject = (await oldSource.HeadAsync("model.bin", CancellationToken.None))!;
        oldSource.ReadGate = new TaskCompletionSource();
        using var download = new MemoryStream();
        var inFlight = reader.CopyToAsync(oldDataset, oldObject, 0, oldObject.Size, download, CancellationToken.None);

        podInfo.WriteConfig(Config(Dataset("models", _b) with { Prefetch = ["model.bin"] }));
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal(2, watcher.Status.Generation);
        Assert.True(_registry.Current.TryGet("models", out var newDataset));
        var newObject = (await newDataset.Source.HeadAsync("model.bin", CancellationToken.None))!;
        var buffer = new byte[newObject.Size];
        await reader.ReadAsync(newDataset, newObject, 0, buffer, CancellationToken.None);
        Assert.Equal(TempDataset.Sha256(newBytes), TempDataset.Sha256(buffer));

        Assert.False(inFlight.IsCompleted);
        oldSource.ReadGate.SetResult();
        await inFlight;
        Assert.Equal(TempDataset.Sha256(oldBytes), TempDataset.Sha256(download.ToArray()));

        await WaitForPrefetchAsync(prefetch);
        var job = Assert.Single(prefetch.List());
        Assert.Equal(PrefetchPhase.Complete, job.Phase);
        Assert.Equal(newBytes.Length, job.BytesDone);
        Assert.True(cache.Contains(new BlockKey(newDataset.Source.Identity, "model.bin", newObject.ETag, 2)));
        Assert.True(cache.Contains(new BlockKey(oldSource.Identity, "model.bin", oldObject.ETag, 5)));
    }

    [Fact]
    public async Task LiveSwitch_DatasetRemoved_ItsPrefetchCancelledAndBucketGone()
    {
        for (var i = 0; i < 50; i++)
        {
            _a.Write($"d/{i}", 100);
        }

        var cache = new MemoryBlockCache(4096, long.MaxValue);
        using var prefetch = new PrefetchManager(new PrefetchConfig(), new BlockCacheObjectReader(cache), cache, TimeProvider.System, NullLoggerFactory.Instance);
        _registry.Changed += prefetch.Follow;
        var applier = NewApplier(prefetch);
        var first = applier.Apply(Config(Dataset("one", _a) with { Prefetch = ["d/"] }, Dataset("two", _b)));
        ((CountingObjectSource)first.Datasets["one"].Source).ReadGate = new TaskCompletionSource();
        var jobId = Assert.Single(prefetch.List()).Id;

        applier.Apply(Config(Dataset("two", _b)));

        Assert.False(_registry.Current.TryGet("one", out _));
        Assert.True(prefetch.TryGet(jobId, out _) is false);
        Assert.Empty(prefetch.List());
    }

    private ConfigApplier NewApplier(PrefetchManager? prefetch = null, TimeSpan? grace = null) =>
        new(_sources, _registry, prefetch, _time, NullLogger<ConfigApplier>.Instance, grace);

    private static DatasetConfig Dataset(string name, TempDataset data) => new() { Name = name, Source = "local://" + data.Root };

    private static SidecarConfig Config(params DatasetConfig[] datasets) => new() { Datasets = datasets };

    private static async Task WaitForPrefetchAsync(PrefetchManager manager)
    {
        foreach (var progress in manager.List())
        {
            if (manager.TryGet(progress.Id, out var job))
            {
                await job.Completion;
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
