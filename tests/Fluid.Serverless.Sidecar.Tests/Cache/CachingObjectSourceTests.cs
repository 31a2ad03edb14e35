using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class MetadataCachingObjectSourceTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private readonly CountingObjectSource _remote = new();
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task HeadAsync_WithinTtl_AsksTheRemoteOnce()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        var put = _remote.Put("k", [1, 2, 3]);

        var first = await source.HeadAsync("k", default);
        _time.Advance(Ttl - TimeSpan.FromSeconds(1));
        var second = await source.HeadAsync("k", default);

        Assert.Equal(put, first);
        Assert.Equal(put, second);
        Assert.Equal(1, _remote.Heads);
    }

    [Fact]
    public async Task HeadAsync_AfterTtl_RevalidatesAndSeesTheNewVersion()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        _remote.Put("k", [1, 2, 3]);
        await source.HeadAsync("k", default);
        var newer = _remote.Put("k", [4, 5, 6, 7]);

        _time.Advance(Ttl);
        var seen = await source.HeadAsync("k", default);

        Assert.Equal(newer.ETag, seen!.ETag);
        Assert.Equal(4, seen.Size);
        Assert.Equal(2, _remote.Heads);
    }

    [Fact]
    public async Task HeadAsync_ImmutableDataset_NeverRevalidates()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: true, _time);
        var original = _remote.Put("k", [1, 2, 3]);
        await source.HeadAsync("k", default);
        await source.ListAsync(new ListRequest("", null, null, 1000), default);
        _remote.Put("k", [9, 9]);

        _time.Advance(TimeSpan.FromDays(365));
        var seen = await source.HeadAsync("k", default);
        var page = await source.ListAsync(new ListRequest("", null, null, 1000), default);

        Assert.Equal(original, seen);
        Assert.Equal(original, Assert.Single(page.Objects));
        Assert.Equal((1, 1), (_remote.Heads, _remote.Lists));
    }

    [Fact]
    public async Task ListAsync_SeedsEachListedObjectsHead_UntilTheTtl()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        var a = _remote.Put("dir/a", [1]);
        var b = _remote.Put("dir/b", [2, 2]);

        await source.ListAsync(new ListRequest("dir/", null, null, 1000), default);
        Assert.Equal(a, await source.HeadAsync("dir/a", default));
        Assert.Equal(b, await source.HeadAsync("dir/b", default));
        Assert.Equal(0, _remote.Heads);

        _time.Advance(Ttl);
        await source.HeadAsync("dir/a", default);
        Assert.Equal(1, _remote.Heads);
    }

    [Fact]
    public async Task ListAsync_FlatPage_ProvesWhichListedObjectsHaveNoChildren()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: true, _time);
        _remote.Put("d/k", [1]);
        _remote.Put("d/k.txt", [1]); // sorts between "d/k" and "d/k/…"
        _remote.Put("d/k/inner", [1]);
        _remote.Put("d/m", [1]);
        await source.ListAsync(new ListRequest("d/", null, null, 1000), default);
        var lists = _remote.Lists;

        Assert.Empty((await source.ListAsync(new ListRequest("d/m/", "/", null, 1), default)).Objects);
        Assert.Empty((await source.ListAsync(new ListRequest("d/k.txt/", "/", null, 1), default)).Objects);
        Assert.Equal(lists, _remote.Lists);
        Assert.NotEmpty((await source.ListAsync(new ListRequest("d/k/", "/", null, 1), default)).Objects);
        Assert.Equal(lists + 1, _remote.Lists);
    }

    [Fact]
    public async Task ListAsync_TruncatedPage_ProvesNothingPastItsEnd()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: true, _time);
        _remote.Put("d/a", [1]);
        _remote.Put("d/b", [1]);
        _remote.Put("d/b/inner", [1]);

        var page = await source.ListAsync(new ListRequest("d/", null, null, 2), default);
        Assert.Equal("d/b", page.NextStartAfter);
        var lists = _remote.Lists;

        Assert.Empty((await source.ListAsync(new ListRequest("d/a/", "/", null, 1), default)).Objects);
        Assert.Equal(lists, _remote.Lists);
        Assert.NotEmpty((await source.ListAsync(new ListRequest("d/b/", "/", null, 1), default)).Objects);
        Assert.Equal(lists + 1, _remote.Lists);
    }

    [Fact]
    public async Task Invalidate_AfterAWriteBelowAListedObject_ForgetsItHadNoChildren()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: true, _time);
        _remote.Put("d/k", [1]);
        await source.ListAsync(new ListRequest("d/", "/", null, 1000), default);
        Assert.Empty((await source.ListAsync(new ListRequest("d/k/", "/", null, 1), default)).Objects);

        _remote.Put("d/k/new", [1]);
        source.Invalidate("d/k/new");

        Assert.NotEmpty((await source.ListAsync(new ListRequest("d/k/", "/", null, 1), default)).Objects);
    }

    [Fact]
    public async Task HeadAsync_MissingObject_RememberedOnlyBriefly()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: true, _time);

        Assert.Null(await source.HeadAsync("later", default));
        _remote.Put("later", [1]);
        Assert.Null(await source.HeadAsync("later", default));
        _time.Advance(MetadataCachingObjectSource.MaxNegativeTtl);
        Assert.NotNull(await source.HeadAsync("later", default));

        Assert.Equal(2, _remote.Heads);
    }

    [Fact]
    public async Task ListAsync_WithinTtlThenAfter_CachedThenRevalidated()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        _remote.Put("dir/a", [1]);
        var request = new ListRequest("dir/", "/", null, 1000);

        Assert.Single((await source.ListAsync(request, default)).Objects);
        _remote.Put("dir/b", [2]);
        Assert.Single((await source.ListAsync(request, default)).Objects);
        _time.Advance(Ttl);
        Assert.Equal(2, (await source.ListAsync(request, default)).Objects.Count);

        Assert.Equal(2, _remote.Lists);
    }

    [Fact]
    public async Task Invalidate_AfterAWrite_NextHeadAndCoveringListAskTheRemote()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        _remote.Put("dir/a", [1]);
        await source.HeadAsync("dir/a", default);
        await source.ListAsync(new ListRequest("dir/", null, null, 1000), default);
        await source.ListAsync(new ListRequest("other/", null, null, 1000), default);
        var written = _remote.Put("dir/a", [1, 2]);

        source.Invalidate("dir/a");

        Assert.Equal(written, await source.HeadAsync("dir/a", default));
        Assert.Equal(written, Assert.Single((await source.ListAsync(new ListRequest("dir/", null, null, 1000), default)).Objects));
        await source.ListAsync(new ListRequest("other/", null, null, 1000), default);
        Assert.Equal((2, 3), (_remote.Heads, _remote.Lists));
    }

    [Fact]
    public async Task HeadAsync_ConcurrentCallers_ShareOneRemoteCallAndSurviveACancelledOne()
    {
        var gated = new GatedHeadSource(_remote);
        var source = new MetadataCachingObjectSource(gated, TimeSpan.Zero, immutable: false, _time);
        var put = _remote.Put("k", [1]);

        using var cancel = new CancellationTokenSource();
        var cancelled = source.HeadAsync("k", cancel.Token).AsTask();
        var others = Enumerable.Range(0, 15).Select(_ => source.HeadAsync("k", default).AsTask()).ToList();
        await cancel.CancelAsync();
        gated.Gate.SetResult();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.All(await Task.WhenAll(others), o => Assert.Equal(put, o));
        Assert.Equal(1, _remote.Heads);
    }

    [Fact]
    public async Task HeadAndList_RemoteDownAfterTtl_AnswerWithTheLastKnownMetadata()
    {
        var failing = new FailingSource(_remote);
        var source = new MetadataCachingObjectSource(failing, Ttl, immutable: false, _time);
        var known = _remote.Put("k", [1, 2, 3]);
        var request = new ListRequest("", null, null, 1000);
        await source.HeadAsync("k", default);
        await source.ListAsync(request, default);

        failing.Down = true;
        _time.Advance(Ttl * 2);

        Assert.Equal(known, await source.HeadAsync("k", default));
        Assert.Equal(known, Assert.Single((await source.ListAsync(request, default)).Objects));
        await Assert.ThrowsAsync<SourceUnavailableException>(async () => await source.HeadAsync("never-seen", default));
    }

    [Fact]
    public async Task ReadAsync_ObjectChangedAtRemote_DropsTheCachedHead()
    {
        var source = new MetadataCachingObjectSource(_remote, Ttl, immutable: false, _time);
        var old = _remote.Put("k", [1, 2]);
        await source.HeadAsync("k", default);
        var newer = _remote.Put("k", [3, 4]);

        await Assert.ThrowsAsync<RemoteObjectChangedException>(async () => await source.ReadAsync(old, 0, new byte[2], default));

        Assert.Equal(newer, await source.HeadAsync("k", default));
    }

    /// <summary>Fails HEAD and LIST as a source does when its remote is down (after retries).</summary>
    private sealed class FailingSource(CountingObjectSource inner) : IObjectSource
    {
        public bool Down { get; set; }

        public string Identity => inner.Identity;

        public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) =>
            Down ? throw new SourceUnavailableException("remote down") : inner.HeadAsync(key, cancellationToken);

        public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
            Down ? throw new SourceUnavailableException("remote down") : inner.ListAsync(request, cancellationToken);

        public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            inner.ReadAsync(obj, offset, destination, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Holds HEADs back until the test opens the gate, so concurrent callers overlap.</summary>
    private sealed class GatedHeadSource(CountingObjectSource inner) : IObjectSource
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Identity => inner.Identity;

        public async ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
        {
            await Gate.Task.WaitAsync(cancellationToken);
            return await inner.HeadAsync(key, cancellationToken);
        }

        public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

        public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            inner.ReadAsync(obj, offset, destination, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
