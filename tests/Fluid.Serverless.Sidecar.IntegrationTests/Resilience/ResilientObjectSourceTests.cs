using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Resilience;

/// <summary>
/// Sources behind <see cref="FaultProxy"/> in front of a real remote: what a user of the sidecar would see when the
/// remote misbehaves. Backoffs are shortened through the dataset options so the suite stays fast; no test asserts a
/// duration, only outcomes (bytes, exceptions, how many requests reached the remote).
/// </summary>
public abstract class ResilientObjectSourceTests : IAsyncLifetime
{
    private FaultProxy? proxy;

    protected FaultProxy Proxy => proxy ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => proxy = await FaultProxy.StartAsync(UpstreamBase);

    public async Task DisposeAsync()
    {
        if (proxy is not null)
        {
            await proxy.DisposeAsync();
        }
    }

    protected abstract string UpstreamBase { get; }

    /// <summary>Stores an object at the remote and returns a source over the proxy plus the object's metadata.</summary>
    private protected abstract Task<(IObjectSource Source, string Key)> SeedAsync(byte[] content, Dictionary<string, string> resilienceOptions);

    protected static Dictionary<string, string> FastOptions(int retries = 3, double attemptTimeout = 5, double timeout = 20) => new()
    {
        ["retries"] = retries.ToString(CultureInfo.InvariantCulture),
        ["retryDelaySeconds"] = "0.01",
        ["retryMaxDelaySeconds"] = "0.05",
        ["attemptTimeoutSeconds"] = attemptTimeout.ToString(CultureInfo.InvariantCulture),
        ["timeoutSeconds"] = timeout.ToString(CultureInfo.InvariantCulture),
    };

    private async Task<(IObjectSource Source, RemoteObject Object, byte[] Content)> SeedAndHeadAsync(Dictionary<string, string>? options = null, int size = 300_000)
    {
        var content = RandomBytes(size, seed: size);
        var (source, key) = await SeedAsync(content, options ?? FastOptions());
        var obj = await source.HeadAsync(key, CancellationToken.None);
        Assert.NotNull(obj);
        return (source, obj, content);
    }

    private async Task<byte[]> ReadWholeAsync(IObjectSource source, RemoteObject obj)
    {
        var buffer = new byte[obj.Size];
        await source.ReadAsync(obj, 0, buffer, CancellationToken.None);
        return buffer;
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    public async Task ReadAsync_ServerErrorThenSuccess_RetriedAndBytesCorrect(int status)
    {
        var (source, obj, content) = await SeedAndHeadAsync();
        Proxy.FailNext(1, new Fault.Status(status, status == 503 ? "SlowDown" : "InternalError"));
        var before = Proxy.RequestCount;

        var bytes = await ReadWholeAsync(source, obj);

        Assert.Equal(Sha256(content), Sha256(bytes));
        Assert.Equal(2, Proxy.RequestCount - before);
    }

    [Fact]
    public async Task ReadAsync_ConnectionResetThenSuccess_RetriedAndBytesCorrect()
    {
        var (source, obj, content) = await SeedAndHeadAsync();
        Proxy.FailNext(2, new Fault.Reset());
        var before = Proxy.RequestCount;

        var bytes = await ReadWholeAsync(source, obj);

        Assert.Equal(Sha256(content), Sha256(bytes));
        Assert.Equal(3, Proxy.RequestCount - before);
    }

    [Fact]
    public async Task ReadAsync_TruncatedBody_RetriedNeverServedShort()
    {
        var (source, obj, content) = await SeedAndHeadAsync(size: 2 * 1024 * 1024);
        Proxy.FailNext(1, new Fault.TruncateBody());
        var before = Proxy.RequestCount;

        var bytes = await ReadWholeAsync(source, obj);

        Assert.Equal(Sha256(content), Sha256(bytes));
        Assert.Equal(2, Proxy.RequestCount - before);
    }

    [Fact]
    public async Task ReadIntoAsync_WholeObjectInFourParts_OneRequestAndBytesCorrect()
    {
        var (source, obj, content) = await SeedAndHeadAsync(size: 1024 * 1024);
        var sink = new PartsSink(obj.Size, parts: 4);
        var before = Proxy.RequestCount;

        await source.ReadIntoAsync(obj, sink, CancellationToken.None);

        Assert.Equal(Sha256(content), Sha256(sink.Bytes));
        Assert.Equal(4, sink.CompletedParts);
        Assert.Equal(1, Proxy.RequestCount - before);
    }

    [Fact]
    public async Task ReadIntoAsync_TruncatedBody_RetryAsksOnlyForTheMissingRange()
    {
        var (source, obj, content) = await SeedAndHeadAsync(size: 2 * 1024 * 1024);
        var sink = new PartsSink(obj.Size, parts: 8);
        Proxy.FailNext(1, new Fault.TruncateBody());
        var before = Proxy.Ranges.Count;

        await source.ReadIntoAsync(obj, sink, CancellationToken.None);

        Assert.Equal(Sha256(content), Sha256(sink.Bytes));
        var ranges = Proxy.Ranges.Skip(before).ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Equal($"bytes=0-{obj.Size - 1}", ranges[0]);
        var resumedAt = long.Parse(ranges[1]["bytes=".Length..ranges[1].IndexOf('-', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        Assert.InRange(resumedAt, 1, obj.Size - 1);
    }

    /// <summary>A sink of equal parts over one array (what the block cache does with blocks, minus the cache).</summary>
    private sealed class PartsSink(long size, int parts) : RangeSink
    {
        private readonly long _partSize = (size + parts - 1) / parts;
        private long _done;

        public byte[] Bytes { get; } = new byte[size];

        public int CompletedParts { get; private set; }

        public override long Offset => _done;

        public override long Remaining => Bytes.Length - _done;

        public override Memory<byte> GetBuffer()
        {
            var partEnd = Math.Min(Bytes.Length, ((_done / _partSize) + 1) * _partSize);
            return Bytes.AsMemory((int)_done, (int)(partEnd - _done));
        }

        public override void Advance(int count)
        {
            _done += count;
            if (_done % _partSize == 0 || _done == Bytes.Length)
            {
                CompletedParts++;
            }
        }
    }

    [Fact]
    public async Task ReadAsync_StalledBodyPastAttemptTimeout_RetriedAndBytesCorrect()
    {
        var (source, obj, content) = await SeedAndHeadAsync(FastOptions(attemptTimeout: 1));
        Proxy.FailNext(1, new Fault.SlowBody(TimeSpan.FromSeconds(30), ChunkBytes: 1024));
        var before = Proxy.RequestCount;

        var bytes = await ReadWholeAsync(source, obj);

        Assert.Equal(Sha256(content), Sha256(bytes));
        Assert.Equal(2, Proxy.RequestCount - before);
    }

    [Fact]
    public async Task ReadAsync_ShareOfRequestsFailing_EveryBlockCorrect()
    {
        // The breaker is kept out of this test (it is about retries): at 30 % failures a small window can pass 50 %.
        var options = FastOptions(retries: 6);
        options["breakerMinimumThroughput"] = "100000";
        var (source, obj, content) = await SeedAndHeadAsync(options, size: 1024 * 1024);
        Proxy.FailShare(0.3, new Fault.Status(500), seed: 42);

        var bytes = await ReadAllAsync(source, obj, chunk: 64 * 1024);

        Assert.Equal(Sha256(content), Sha256(bytes));
    }

    [Fact]
    public async Task HeadAsync_RemoteHangs_SourceUnavailableWithinOverallTimeout()
    {
        var (source, obj, _) = await SeedAndHeadAsync(FastOptions(attemptTimeout: 0.5, timeout: 1.5));
        Proxy.FailAll(new Fault.Latency(TimeSpan.FromMinutes(5)));

        // WaitAsync turns a hang (the bug this guards against) into a failure instead of a stuck suite.
        var error = await Assert.ThrowsAsync<SourceUnavailableException>(
            () => source.ReadAsync(obj, 0, new byte[10], CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Contains(obj.Key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyCall_CircuitOpen_FailsFastWithoutReachingRemote()
    {
        var options = FastOptions(retries: 0);
        options["breakerMinimumThroughput"] = "4";
        options["breakerFailureRatio"] = "0.5";
        options["breakerBreakSeconds"] = "60";
        var (source, obj, _) = await SeedAndHeadAsync(options);
        Proxy.FailAll(new Fault.Status(503, "SlowDown"));
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<SourceUnavailableException>(() => source.ReadAsync(obj, 0, new byte[10], CancellationToken.None).AsTask());
        }

        var before = Proxy.RequestCount;
        var error = await Assert.ThrowsAsync<SourceUnavailableException>(() => source.HeadAsync(obj.Key, CancellationToken.None).AsTask());

        Assert.Contains("circuit is open", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Proxy.RequestCount);
    }

    [Fact]
    public async Task HeadAsync_MissingObject_NullWithoutRetry()
    {
        var (source, _, _) = await SeedAndHeadAsync();
        var before = Proxy.RequestCount;

        Assert.Null(await source.HeadAsync("no/such/object", CancellationToken.None));
        Assert.Equal(1, Proxy.RequestCount - before);
    }
}

[Collection(MotoCollection.Name)]
public sealed class ResilientS3SourceTests(MotoServerFixture moto) : ResilientObjectSourceTests
{
    protected override string UpstreamBase => moto.Endpoint;

    private protected override async Task<(IObjectSource Source, string Key)> SeedAsync(byte[] content, Dictionary<string, string> resilienceOptions)
    {
        var bucket = await moto.CreateBucketAsync("faults");
        await moto.PutAsync(bucket, "blob.bin", content);
        resilienceOptions["endpoint"] = Proxy.Endpoint;
        resilienceOptions["accessKeyId"] = moto.AccessKey;
        resilienceOptions["secretAccessKey"] = moto.SecretKey;
        var source = new SourceFactory(_ => null).Create(new DatasetConfig { Name = "faults", Source = $"s3://{bucket}/", Options = resilienceOptions });
        return (source, "blob.bin");
    }

    [Fact]
    public async Task ReadAsync_ObjectChanged_NotRetried()
    {
        var bucket = await moto.CreateBucketAsync("changed");
        await moto.PutAsync(bucket, "x.bin", RandomBytes(100, seed: 1));
        var options = FastOptions();
        options["endpoint"] = Proxy.Endpoint;
        options["accessKeyId"] = moto.AccessKey;
        options["secretAccessKey"] = moto.SecretKey;
        var source = new SourceFactory(_ => null).Create(new DatasetConfig { Name = "changed", Source = $"s3://{bucket}/", Options = options });
        var obj = await source.HeadAsync("x.bin", CancellationToken.None);
        await moto.PutAsync(bucket, "x.bin", RandomBytes(100, seed: 2));
        var before = Proxy.RequestCount;

        await Assert.ThrowsAsync<RemoteObjectChangedException>(() => source.ReadAsync(obj!, 0, new byte[100], CancellationToken.None).AsTask());
        Assert.Equal(1, Proxy.RequestCount - before);
    }
}

[Collection(NginxCollection.Name)]
public sealed class ResilientHttpSourceTests(NginxFixture nginx) : ResilientObjectSourceTests
{
    protected override string UpstreamBase => nginx.BaseUrl;

    private protected override Task<(IObjectSource Source, string Key)> SeedAsync(byte[] content, Dictionary<string, string> resilienceOptions)
    {
        var directory = "faults-" + Guid.NewGuid().ToString("N");
        nginx.Write($"{directory}/blob.bin", content);
        var source = new SourceFactory(_ => null).Create(new DatasetConfig { Name = "faults", Source = $"{Proxy.Endpoint}/{directory}/", Options = resilienceOptions });
        return Task.FromResult((source, "blob.bin"));
    }
}

public sealed class RemoteDownTests
{
    [Fact]
    public async Task HeadAsync_NothingListening_SourceUnavailableAfterRetries()
    {
        var port = FreePort.Next();
        var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "down",
            Source = $"http://127.0.0.1:{port}/data/",
            Options = new Dictionary<string, string> { ["retries"] = "2", ["retryDelaySeconds"] = "0.01", ["timeoutSeconds"] = "10", ["attemptTimeoutSeconds"] = "2" },
        });

        var error = await Assert.ThrowsAsync<SourceUnavailableException>(() => source.HeadAsync("a.bin", CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }
}
