using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume.Fuse;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// What the sidecar already knows, it does not ask the remote again: the real host (S3 endpoint, metadata cache,
/// block cache, prefetch) over an in-memory remote that counts every call (<see cref="CountingObjectSource"/>, the
/// only stand-in). After a prefetch, reading every object through the S3 endpoint and looking every file up the
/// way the FUSE view does makes no remote request; after the TTL, one HEAD per object or one LIST page per
/// directory read as a whole.
/// </summary>
public sealed class KnownMetadataTests : IAsyncLifetime
{
    private const string Bucket = "train";
    private const int Files = 21;
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    private readonly CountingObjectSource _remote = new() { StreamsRanges = true };
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, string> _sha = new(StringComparer.Ordinal);
    private readonly string _root = Directory.CreateTempSubdirectory("known-metadata-").FullName;
    private WebApplication? _app;

    public Task InitializeAsync()
    {
        var random = new Random(19);
        for (var i = 0; i < Files; i++)
        {
            // one nested directory, so "a file" and "a directory" are both looked up
            var key = i < 18 ? $"images/{i:D2}.jpg" : $"images/nested/{i:D2}.jpg";
            var bytes = new byte[1000 + (i * 997)];
            random.NextBytes(bytes);
            _remote.Put(key, bytes);
            _sha[key] = Convert.ToHexStringLower(SHA256.HashData(bytes));
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AfterPrefetch_ReadingEveryObjectThroughS3AndFuseLookups_MakesNoRemoteRequest(bool immutable)
    {
        var dataset = await StartAsync(immutable);
        await PrefetchAsync(dataset, "images/");
        var before = Requests();

        await ReadAllThroughS3Async();
        await LookUpAllAsFuseDoesAsync(dataset);

        Assert.Equal(before, Requests());
    }

    [Fact]
    public async Task MutableDataset_AfterTtl_AtMostOneHeadPerObjectAndNoBlockFetched()
    {
        var dataset = await StartAsync(immutable: false);
        await PrefetchAsync(dataset, "images/");
        var (heads, lists, reads) = Requests();

        _time.Advance(Ttl);
        await ReadAllThroughS3Async();

        // the blocks are cached under the ETag the HEAD confirmed: only the revalidations reach the remote, at most
        // one per object (fewer when a prefetch read confirmed its object's ETag after the clock moved)
        var (headsAfter, listsAfter, readsAfter) = Requests();
        Assert.InRange(headsAfter - heads, 1, Files);
        Assert.Equal((lists, reads), (listsAfter, readsAfter));
    }

    [Fact]
    public async Task MutableDataset_AfterTtl_DirectoryReadAsAWhole_IsOneListPagePerDirectory()
    {
        var dataset = await StartAsync(immutable: false);
        await PrefetchAsync(dataset, "images/");
        var (heads, lists, reads) = Requests();

        _time.Advance(Ttl);
        var listed = new List<string>();
        foreach (var directory in new[] { "images/", "images/nested/" })
        {
            var cursor = new DirectoryCursor(dataset.Source, directory, 1000);
            for (var index = 0L; await cursor.GetAsync(index, default) is { } entry; index++)
            {
                listed.Add(entry.Key);
            }
        }

        await LookUpAllAsFuseDoesAsync(dataset);

        Assert.Equal(Files + 1, listed.Count); // the files and the "nested/" directory
        Assert.Equal((heads, lists + 2, reads), Requests());
    }

    [Fact]
    public async Task ListedObjectThatChangedAtTheRemote_IsSeenAfterTheTtl()
    {
        var dataset = await StartAsync(immutable: false);
        await PrefetchAsync(dataset, "images/");
        var changed = new byte[] { 1, 2, 3 };
        _remote.Put("images/00.jpg", changed);

        _time.Advance(Ttl);
        using var client = new HttpClient { BaseAddress = S3Endpoint() };
        var body = await client.GetByteArrayAsync($"/{Bucket}/images/00.jpg");

        Assert.Equal(changed, body);
        Assert.NotNull(dataset);
    }

    private (int Heads, int Lists, int Reads) Requests() => (_remote.Heads, _remote.Lists, _remote.Reads);

    private async Task ReadAllThroughS3Async()
    {
        using var client = new HttpClient { BaseAddress = S3Endpoint() };
        foreach (var (key, sha) in _sha)
        {
            var body = await client.GetByteArrayAsync($"/{Bucket}/{key}");
            Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(body)));
        }
    }

    /// <summary>The two questions a FUSE LOOKUP asks for a name: is it a directory, is it an object.</summary>
    private async Task LookUpAllAsFuseDoesAsync(Dataset dataset)
    {
        foreach (var key in _sha.Keys)
        {
            Assert.False(await DirectoryCursor.HasChildrenAsync(dataset.Source, key + "/", default));
            var obj = await dataset.Source.HeadAsync(key, default);
            Assert.NotNull(obj);
        }
    }

    private Uri S3Endpoint() => new($"http://127.0.0.1:{_app!.Services.GetRequiredService<SidecarListeners>().S3Port}");

    private async Task PrefetchAsync(Dataset dataset, string entry)
    {
        var manager = _app!.Services.GetRequiredService<PrefetchManager>();
        var job = manager.StartAdminJob(dataset, PrefetchEntries.Parse(entry));
        await job.Completion;
        Assert.Equal(PrefetchPhase.Complete, job.GetProgress().Phase);
        Assert.Equal(0, _remote.Heads);
    }

    private async Task<Dataset> StartAsync(bool immutable)
    {
        var cache = new CacheConfig { Directory = Path.Combine(_root, "cache"), MetadataTtlSeconds = (int)Ttl.TotalSeconds };
        var config = new SidecarConfig
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
            Cache = cache,
            Datasets = [new DatasetConfig { Name = Bucket, Source = "local:///stand-in", Immutable = immutable }],
        };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<ISourceFactory>(new MetadataCachingSourceFactory(new OneSourceFactory(_remote), cache, _time));
        builder.AddFluidSidecar(config, "test fixture");
        _app = builder.Build();
        _app.MapFluidSidecar();
        await _app.StartAsync();
        Assert.True(_app.Services.GetRequiredService<IDatasetRegistry>().Current.TryGet(Bucket, out var dataset));
        return dataset;
    }

    /// <summary>Every dataset reads the one counting remote (which the metadata cache must not dispose under the test).</summary>
    private sealed class OneSourceFactory(CountingObjectSource remote) : ISourceFactory
    {
        public IObjectSource Create(DatasetConfig dataset) => new Undisposed(remote);
    }

    private sealed class Undisposed(IObjectSource inner) : IObjectSource
    {
        public string Identity => inner.Identity;

        public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);

        public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => inner.ListAsync(request, cancellationToken);

        public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            inner.ReadAsync(obj, offset, destination, cancellationToken);

        public ValueTask ReadIntoAsync(RemoteObject obj, RangeSink sink, CancellationToken cancellationToken) => inner.ReadIntoAsync(obj, sink, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
