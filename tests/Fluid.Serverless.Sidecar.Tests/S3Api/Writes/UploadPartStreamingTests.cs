using System.Net;
using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>
/// A client's UploadPart goes straight into the remote's part: the remote receives the first bytes while the client
/// still holds the rest, so the sidecar never stages a part (no 64 MiB buffer per part, memory flat whatever the part
/// size). The real host (Kestrel, S3 endpoint, write path); the remote is a stand-in multipart store that counts what
/// it was given (a real S3 remote is covered by the write-through tests against moto).
/// </summary>
public sealed class UploadPartStreamingTests : IAsyncLifetime
{
    private const string Bucket = "uploads";
    private const int PartSize = 64 * 1024 * 1024;
    private const int SentBeforeWaiting = 8 * 1024 * 1024;
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private readonly StreamingRemote _remote = new();
    private readonly string _root = Directory.CreateTempSubdirectory("upload-part-streaming-").FullName;
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var config = new SidecarConfig
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
            Cache = new CacheConfig { Directory = Path.Combine(_root, "cache") },
            Datasets = [new DatasetConfig { Name = Bucket, Source = "local://" + Directory.CreateDirectory(Path.Combine(_root, "data")).FullName, ReadOnly = false }],
        };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<ISourceFactory>(new OneSourceFactory(_remote));
        builder.AddFluidSidecar(config, "test fixture");
        _app = builder.Build();
        _app.MapFluidSidecar();
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task UploadPart64MiB_RemoteReceivesTheFirstBytesBeforeTheClientSendsTheRest()
    {
        var part = new byte[PartSize];
        new Random(64).NextBytes(part);
        var port = _app.Services.GetRequiredService<SidecarListeners>().S3Port;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = HangGuard }.WithAnyKeySignature();

        // The client sends 8 MiB, then waits until the remote has them: a sidecar that staged the part first would
        // never let the remote see a byte before the client sent all 64 MiB, and this upload would hang.
        using var content = new GatedContent(part, SentBeforeWaiting, _remote.Received(SentBeforeWaiting));
        using var response = await http.PutAsync($"/{Bucket}/big.bin?partNumber=1&uploadId=u-1", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"part-1\"", response.Headers.ETag?.Tag);
        Assert.Equal(PartSize, _remote.BytesReceived);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(part)), _remote.Sha256Hex);
    }

    /// <summary>Writes the first <paramref name="first"/> bytes, waits for <paramref name="gate"/>, then the rest.</summary>
    private sealed class GatedContent(byte[] bytes, int first, Task gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, first));
            await stream.FlushAsync();
            await gate.WaitAsync(HangGuard);
            await stream.WriteAsync(bytes.AsMemory(first));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }

    /// <summary>A multipart remote that reads each part as it streams in, 64 KiB at a time, and counts it.</summary>
    private sealed class StreamingRemote : IObjectSource, IWritableObjectSource, IMultipartObjectSource
    {
        private readonly List<(long Bytes, TaskCompletionSource Reached)> _waiters = [];
        private long _received;

        public string Identity => "stand-in://uploads/";
        public bool ForwardsContentMd5 => false;
        public long BytesReceived => Interlocked.Read(ref _received);
        public string Sha256Hex { get; private set; } = "";

        public Task Received(long bytes)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                _waiters.Add((bytes, reached));
            }

            return reached.Task;
        }

        public async ValueTask<string> UploadPartAsync(string key, string uploadId, int partNumber, Stream content, long length, PartDigests digests, CancellationToken cancellationToken)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                var total = Interlocked.Add(ref _received, read);
                lock (_waiters)
                {
                    foreach (var (bytes, reached) in _waiters.Where(w => total >= w.Bytes))
                    {
                        reached.TrySetResult();
                    }
                }
            }

            Sha256Hex = Convert.ToHexStringLower(sha.GetHashAndReset());
            return $"\"part-{partNumber}\"";
        }

        public ValueTask<string> CreateMultipartUploadAsync(string key, ObjectWriteOptions options, CancellationToken cancellationToken) => new("u-1");

        public ValueTask<string> CompleteMultipartUploadAsync(string key, string uploadId, IReadOnlyList<UploadedPart> parts, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask AbortMultipartUploadAsync(string key, string uploadId, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<UploadedPart>> ListPartsAsync(string key, string uploadId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<string> PutAsync(string key, Stream content, ObjectWriteOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<RemoteObject?> CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) => new((RemoteObject?)null);

        public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) => new(ListPage.Empty);

        public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class OneSourceFactory(IObjectSource source) : ISourceFactory
    {
        public IObjectSource Create(DatasetConfig dataset) => source;
    }
}
