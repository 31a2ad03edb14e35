using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public sealed class PrefetchJobTests : IDisposable
{
    private const int BlockSize = 4096;
    private static readonly PrefetchOptions FastRetries = new() { RetryBaseDelay = TimeSpan.FromMilliseconds(1) };
    private readonly TempDataset _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task SecondRun_AlreadyCached_FetchesNothing()
    {
        for (var i = 0; i < 20; i++)
        {
            _data.Write($"d/{i}", BlockSize + 1);
        }

        var (source, _, manager, dataset) = Build(new PrefetchConfig());
        await manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/")).Completion;
        var reads = source.Reads;

        var again = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await again.Completion;

        var progress = again.GetProgress();
        Assert.Equal(PrefetchPhase.Complete, progress.Phase);
        Assert.Equal(20 * (BlockSize + 1L), progress.BytesDone);
        Assert.Equal(0, progress.BytesFetched);
        Assert.Equal(reads, source.Reads);
    }

    [Fact]
    public async Task Manifest_OneWorker_DispatchesInManifestOrder()
    {
        var order = Enumerable.Range(0, 50).Select(i => $"f/{(i * 17) % 50:D2}").ToList();
        foreach (var key in order)
        {
            _data.Write(key, 10);
        }

        _data.Write("order.txt", System.Text.Encoding.UTF8.GetBytes(string.Join('\n', order)));
        var (source, _, manager, dataset) = Build(new PrefetchConfig { Workers = 1 });

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("@order.txt"));
        await job.Completion;

        Assert.Equal(PrefetchPhase.Complete, job.GetProgress().Phase);
        Assert.Equal(order, source.ReadOrder.Where(k => k != "order.txt"));
        Assert.Equal(500, job.GetProgress().BytesTotal); // sizes learned by HEAD count into the total
    }

    [Fact]
    public async Task FileThatKeepsFailing_RetriedTwiceThenReportedByName()
    {
        for (var i = 0; i < 10; i++)
        {
            _data.Write($"d/{i}", 100);
        }

        var (source, _, manager, dataset) = Build(new PrefetchConfig());
        source.FailingKeys.Add("d/3");

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await job.Completion;

        var progress = job.GetProgress();
        Assert.Equal(PrefetchPhase.Failed, progress.Phase);
        Assert.Equal(10, progress.FilesTotal);
        Assert.Equal(9, progress.FilesDone);
        Assert.Equal(1, progress.FilesFailed);
        var failure = Assert.Single(progress.FailedFiles);
        Assert.Equal("d/3", failure.Key);
        Assert.Contains("injected failure", failure.Error, StringComparison.Ordinal);
        Assert.Contains("d/3", progress.Message, StringComparison.Ordinal);
        Assert.Equal(3, source.ReadAttempts["d/3"]);
    }

    [Fact]
    public async Task ManyFailures_ListIsBoundedAndSaysSo()
    {
        for (var i = 0; i < 8; i++)
        {
            _data.Write($"d/{i}", 10);
        }

        var (source, _, manager, dataset) = Build(new PrefetchConfig(), FastRetries with { MaxFailedFilesListed = 3 });
        for (var i = 0; i < 8; i++)
        {
            source.FailingKeys.Add($"d/{i}");
        }

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await job.Completion;

        var progress = job.GetProgress();
        Assert.Equal(8, progress.FilesFailed);
        Assert.Equal(3, progress.FailedFiles.Count);
        Assert.True(progress.FailedFilesTruncated);
    }

    [Fact]
    public async Task Cancel_WhileLoading_EndsCancelledWithPartialFigures()
    {
        for (var i = 0; i < 100; i++)
        {
            _data.Write($"d/{i:D3}", 10);
        }

        var (source, _, manager, dataset) = Build(new PrefetchConfig { Workers = 2 });
        var gate = new TaskCompletionSource();
        source.ReadGate = gate;

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        while (source.Reads < 2)
        {
            await Task.Delay(5);
        }

        Assert.Equal(PrefetchPhase.Loading, job.GetProgress().Phase);
        job.Cancel();
        await job.Completion;

        var progress = job.GetProgress();
        Assert.Equal(PrefetchPhase.Cancelled, progress.Phase);
        Assert.Equal(0, progress.FilesDone);
        Assert.Equal(0, progress.FilesFailed); // a cancelled file is not a failed file
        Assert.Equal(2, source.Reads); // nothing was dispatched after the cancel
    }

    [Fact]
    public async Task Quota_NextFileWouldNotFit_StopsWithClearStatusAndStaysUnderQuota()
    {
        for (var i = 0; i < 10; i++)
        {
            _data.Write($"d/{i}", 3 * BlockSize);
        }

        var quota = (4 * 3 * BlockSize) + 100; // room for four files, not five
        var (source, cache, manager, dataset) = Build(new PrefetchConfig { Workers = 1 }, quotaBytes: quota);

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await job.Completion;

        var progress = job.GetProgress();
        Assert.Equal(PrefetchPhase.Failed, progress.Phase);
        Assert.True(progress.QuotaReached);
        Assert.Equal(4, progress.FilesDone);
        Assert.Contains("cache quota", progress.Message, StringComparison.Ordinal);
        Assert.Contains("d/4", progress.Message, StringComparison.Ordinal);
        Assert.True(cache.GetStatistics().UsedBytes <= quota);
        Assert.Equal(4 * 3, source.Reads);
    }

    [Fact]
    public async Task ObjectChangedSinceListing_HeadsAgainAndWarmsCurrentVersion()
    {
        _data.Write("d/a", 100);
        var (source, cache, manager, _) = Build(new PrefetchConfig());
        var staleSource = new StaleListingSource(source);
        var dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "local://" + _data.Root }, staleSource);

        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse("d/"));
        await job.Completion;

        var current = (await source.HeadAsync("d/a", CancellationToken.None))!;
        Assert.Equal(PrefetchPhase.Complete, job.GetProgress().Phase);
        Assert.True(cache.Contains(new BlockKey(source.Identity, "d/a", current.ETag, 0)));
        Assert.False(cache.Contains(new BlockKey(source.Identity, "d/a", StaleListingSource.StaleETag, 0)));
    }

    /// <summary>Lists every object with an ETag the remote no longer has, as a listing taken before an overwrite would.</summary>
    private sealed class StaleListingSource(Fluid.Serverless.Sidecar.Sources.IObjectSource inner) : Fluid.Serverless.Sidecar.Sources.IObjectSource
    {
        public const string StaleETag = "\"stale\"";
        public string Identity => inner.Identity;
        public ValueTask<Fluid.Serverless.Sidecar.Sources.RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);
        public async ValueTask<Fluid.Serverless.Sidecar.Sources.ListPage> ListAsync(Fluid.Serverless.Sidecar.Sources.ListRequest request, CancellationToken cancellationToken)
        {
            var page = await inner.ListAsync(request, cancellationToken);
            return page with { Objects = [.. page.Objects.Select(o => o with { ETag = StaleETag })] };
        }

        public ValueTask ReadAsync(Fluid.Serverless.Sidecar.Sources.RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) => inner.ReadAsync(obj, offset, destination, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private (CountingObjectSource Source, MemoryBlockCache Cache, PrefetchManager Manager, Dataset Dataset) Build(
        PrefetchConfig config, PrefetchOptions? options = null, long quotaBytes = long.MaxValue)
    {
        var source = new CountingObjectSource(new LocalObjectSource(_data.Root));
        var cache = new MemoryBlockCache(BlockSize, quotaBytes);
        var manager = new PrefetchManager(config, new BlockCacheObjectReader(cache), cache, TimeProvider.System, NullLoggerFactory.Instance, options ?? FastRetries);
        var dataset = new Dataset(new DatasetConfig { Name = "ds", Source = "local://" + _data.Root }, source);
        return (source, cache, manager, dataset);
    }
}
