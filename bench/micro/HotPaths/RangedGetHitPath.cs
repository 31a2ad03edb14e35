using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.S3Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Micro.HotPaths;

/// <summary>
/// The sidecar's hit path for one ranged GET, in process: the real host (AddFluidSidecar over a local:// immutable
/// dataset and a DiskBlockCache in a temp directory, started, so every service runs as in the product) and its
/// real <see cref="S3RequestHandler"/>, called with one reused <see cref="DefaultHttpContext"/> (as Kestrel reuses a
/// connection's context) whose response body only counts bytes. Range parse, target parse, snapshot and metadata
/// lookup, block cache hit and the copy into the response all run; sockets and HTTP parsing do not.
/// Used by bench/micro (BenchmarkDotNet) and by the allocation budget test in the sidecar's test project.
/// </summary>
internal sealed class RangedGetHitPath : IAsyncDisposable
{
    public const string Bucket = "bench";
    public const string Key = "object.bin";
    public const int ObjectBytes = 16 * 1024 * 1024;

    private const string Path = "/" + Bucket + "/" + Key;

    private readonly WebApplication _app;
    private readonly string _root;
    private readonly S3RequestHandler _handler;
    private readonly DefaultHttpContext _context = new();
    private readonly HttpRequestFeature _request = new();
    private readonly CountingStream _body = new();
    private readonly string[] _ranges;
    private int _next;

    private RangedGetHitPath(WebApplication app, string root, int rangeBytes)
    {
        _app = app;
        _root = root;
        _handler = app.Services.GetRequiredService<S3RequestHandler>();
        _context.Features.Set<IHttpRequestFeature>(_request);
        _context.Features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        _context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(_body));
        RangeBytes = rangeBytes;

        // Precomputed, so the harness allocates nothing of its own per request: 64 aligned ranges spread over the object.
        var random = new Random(42);
        var slots = (ObjectBytes / rangeBytes) - 1;
        _ranges = new string[64];
        for (var i = 0; i < _ranges.Length; i++)
        {
            var first = (long)random.Next(0, slots) * rangeBytes;
            _ranges[i] = $"bytes={first}-{first + rangeBytes - 1}";
        }
    }

    public int RangeBytes { get; }

    /// <summary>Starts the host over a fresh temp directory and reads the whole object once, so every block is cached.</summary>
    public static async Task<RangedGetHitPath> StartAsync(int rangeBytes = 64 * 1024)
    {
        var root = Directory.CreateTempSubdirectory("fluid-hit-path-").FullName;
        var data = System.IO.Path.Combine(root, "data");
        Directory.CreateDirectory(data);
        var bytes = new byte[ObjectBytes];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(System.IO.Path.Combine(data, Key), bytes);

        var config = new SidecarConfig
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
            Cache = new CacheConfig { Directory = System.IO.Path.Combine(root, "cache"), MinFreeBytes = 0 },
            Datasets = [new DatasetConfig { Name = Bucket, Source = "local://" + data, Immutable = true }],
        };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddFluidSidecar(config, "hit path harness");
        var app = builder.Build();
        app.MapFluidSidecar();
        await app.StartAsync();

        var harness = new RangedGetHitPath(app, root, rangeBytes);
        var status = await harness.SendAsync(range: null);
        if (status != StatusCodes.Status200OK || harness.LastBodyBytes != ObjectBytes)
        {
            throw new InvalidOperationException($"warming the cache: GET {Path} answered {status} with {harness.LastBodyBytes} bytes, expected 200 with {ObjectBytes}");
        }

        return harness;
    }

    /// <summary>The S3 listener's bound port: the same host served over a real connection (Kestrel, sockets, HTTP parsing).</summary>
    public int S3Port => _app.Services.GetRequiredService<SidecarListeners>().S3Port;

    /// <summary>Body bytes of the last response.</summary>
    public long LastBodyBytes => _body.Written;

    /// <summary>One ranged GET of the next precomputed range; returns the status code (206 when it worked).</summary>
    public Task<int> GetNextRangeAsync()
    {
        var range = _ranges[_next];
        _next = (_next + 1) & (_ranges.Length - 1);
        return SendAsync(range);
    }

    private async Task<int> SendAsync(string? range)
    {
        _request.Method = HttpMethods.Get;
        _request.Path = Path;
        _request.RawTarget = Path;
        _request.Headers.Clear();
        if (range is not null)
        {
            _request.Headers.Range = range;
        }

        var response = _context.Features.GetRequiredFeature<IHttpResponseFeature>();
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.Clear();
        _body.Written = 0;
        await _handler.HandleAsync(_context);
        return response.StatusCode;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>A response body that keeps nothing and counts what was written.</summary>
    private sealed class CountingStream : Stream
    {
        public long Written { get; set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Written += count;

        public override void Write(ReadOnlySpan<byte> buffer) => Written += buffer.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Written += count;
            return Task.CompletedTask;
        }
    }
}
