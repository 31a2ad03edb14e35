using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Prefetch;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

/// <summary>The real DatasetRegistry and SourceFactory (local:// sources); a decorator lets the test hold each source.</summary>
public sealed class ConfigApplierTests : IAsyncLifetime
{
    private readonly TempDataset _a = new();
    private readonly TempDataset _b = new();
    private readonly CountingDecorator _decorator = new();
    private readonly MemoryBlockCache _cache = new(4096, long.MaxValue);
    private DatasetRegistry _registry = null!;
    private PrefetchManager _prefetch = null!;

    public Task InitializeAsync()
    {
        _registry = new DatasetRegistry(NullLogger<DatasetRegistry>.Instance);
        _prefetch = new PrefetchManager(new PrefetchConfig(), new BlockCacheObjectReader(_cache), _cache, TimeProvider.System, NullLoggerFactory.Instance);
        _registry.Changed += _prefetch.Follow;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var source in _decorator.Created)
        {
            source.ReadGate?.TrySetResult();
        }

        await _prefetch.CancelAllAsync();
        _prefetch.Dispose();
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void Apply_UnchangedDataset_KeepsSameDatasetObject()
    {
        var applier = NewApplier();
        applier.Apply(Config(Dataset("one", _a), Dataset("two", _b)));
        var first = _registry.Current;

        applier.Apply(Config(Dataset("one", _a), Dataset("two", _b)));

        Assert.Equal(first.Generation + 1, _registry.Current.Generation);
        Assert.Same(first.Datasets["one"], _registry.Current.Datasets["one"]);
        Assert.Same(first.Datasets["two"], _registry.Current.Datasets["two"]);
        Assert.Equal(2, _decorator.Created.Count);
    }

    [Fact]
    public void Apply_DatasetCannotBeBuilt_ThrowsNamingItAndKeepsOldSnapshotAndPrefetchSettings()
    {
        var applier = NewApplier();
        applier.Apply(Config(Dataset("one", _a)));
        var first = _registry.Current;

        var error = Assert.Throws<InvalidOperationException>(() => applier.Apply(Config(Dataset("one", _b), new DatasetConfig { Name = "bad", Source = "ftp://host/x" }) with
        {
            Prefetch = new PrefetchConfig { WaitForReady = true },
        }));

        Assert.Contains("'bad'", error.Message, StringComparison.Ordinal);
        Assert.Same(first, _registry.Current);
        Assert.False(_prefetch.WaitForReady);
    }

    [Fact]
    public void Apply_PrefetchSectionChanged_ManagerUsesIt()
    {
        var applier = NewApplier();
        applier.Apply(Config(Dataset("one", _a)) with { Prefetch = new PrefetchConfig { WaitForReady = true } });
        Assert.True(_prefetch.WaitForReady);
    }

    /// <summary>
    /// The live switch end to end: kubelet swaps the annotations file; the watcher sees it; the registry publishes a
    /// snapshot whose dataset reads the new source; a download that started on the old snapshot completes with the
    /// old bytes; prefetch follows the new source; the old source's cached blocks stay valid under its identity.
    /// </summary>
    [Fact]
    public async Task LiveSwitch_SymlinkSwap_NewRequestsSeeNewSourceInFlightReadFinishesOnOld()
    {
        var oldBytes = _a.Write("model.bin", (5 * 4096) + 7, seed: 1);
        var newBytes = _b.Write("model.bin", 3 * 4096, seed: 2);
        using var podInfo = new KubeletProjectedDirectory();
        podInfo.WriteConfig(Config(Dataset("models", _a) with { Prefetch = ["model.bin"] }));
        var reader = new BlockCacheObjectReader(_cache);
        var applier = NewApplier();
        using var watcher = new ConfigFileWatcher(
            new ConfigFileWatcherOptions { Path = podInfo.AnnotationsPath, UseFileSystemEvents = false, PollInterval = TimeSpan.FromHours(1) },
            ConfigValidator.Validate,
            TimeProvider.System,
            NullLogger<ConfigFileWatcher>.Instance);
        watcher.ConfigChanged += config => applier.Apply(config);
        Assert.True(watcher.TryLoadInitial(out var initial, out var error), error);
        applier.Apply(initial);
        await WaitForPrefetchAsync();

        // A long download on the old snapshot, held mid-way by a gate on the old source.
        Assert.True(_registry.Current.TryGet("models", out var oldDataset));
        var oldSource = (CountingObjectSource)oldDataset.Source;
        _cache.Invalidate(oldSource.Identity, "model.bin"); // make the download go to the remote
        var oldObject = (await oldSource.HeadAsync("model.bin", CancellationToken.None))!;
        oldSource.ReadGate = new TaskCompletionSource();
        using var download = new MemoryStream();
        var inFlight = reader.CopyToAsync(oldDataset, oldObject, 0, oldObject.Size, download, CancellationToken.None);

        podInfo.WriteConfig(Config(Dataset("models", _b) with { Prefetch = ["model.bin"] }));
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal(2, watcher.Status.Generation);
        Assert.True(_registry.Current.TryGet("models", out var newDataset));
        Assert.NotEqual(oldSource.Identity, newDataset.Source.Identity);
        var newObject = (await newDataset.Source.HeadAsync("model.bin", CancellationToken.None))!;
        var buffer = new byte[newObject.Size];
        await reader.ReadAsync(newDataset, newObject, 0, buffer, CancellationToken.None);
        Assert.Equal(TempDataset.Sha256(newBytes), TempDataset.Sha256(buffer));

        Assert.False(inFlight.IsCompleted);
        oldSource.ReadGate.SetResult();
        await inFlight;
        Assert.Equal(TempDataset.Sha256(oldBytes), TempDataset.Sha256(download.ToArray()));
        Assert.False(oldSource.Disposed);

        await WaitForPrefetchAsync();
        var job = Assert.Single(_prefetch.List());
        Assert.Equal(PrefetchPhase.Complete, job.Phase);
        Assert.Equal(newBytes.Length, job.BytesDone);
        Assert.True(_cache.Contains(new BlockKey(newDataset.Source.Identity, "model.bin", newObject.ETag, 2)));
        Assert.True(_cache.Contains(new BlockKey(oldSource.Identity, "model.bin", oldObject.ETag, 5)));
    }

    [Fact]
    public async Task LiveSwitch_DatasetRemoved_ItsPrefetchCancelledAndBucketGone()
    {
        for (var i = 0; i < 50; i++)
        {
            _a.Write($"d/{i}", 100);
        }

        var applier = NewApplier();
        applier.Apply(Config(Dataset("two", _b)));
        var gate = new TaskCompletionSource();
        _decorator.ReadGateForNewSources = gate;
        applier.Apply(Config(Dataset("one", _a) with { Prefetch = ["d/"] }, Dataset("two", _b)));
        var job = Assert.Single(_prefetch.List());
        Assert.True(_prefetch.TryGet(job.Id, out var running));

        applier.Apply(Config(Dataset("two", _b)));
        await running.Completion;
        gate.SetResult();

        Assert.False(_registry.Current.TryGet("one", out _));
        Assert.Equal(PrefetchPhase.Cancelled, running.GetProgress().Phase);
        Assert.Empty(_prefetch.List());
    }

    private ConfigApplier NewApplier() => new(_decorator, _registry, _prefetch, TimeProvider.System, NullLogger<ConfigApplier>.Instance);

    private static DatasetConfig Dataset(string name, TempDataset data) => new() { Name = name, Source = "local://" + data.Root };

    private static SidecarConfig Config(params DatasetConfig[] datasets) => new() { Datasets = datasets };

    private async Task WaitForPrefetchAsync()
    {
        foreach (var progress in _prefetch.List())
        {
            if (_prefetch.TryGet(progress.Id, out var job))
            {
                await job.Completion;
            }
        }
    }
}
