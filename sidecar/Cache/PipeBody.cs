using System.IO.Pipelines;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// A response body that cached blocks are read straight into: <see cref="ObjectReader"/> asks <see cref="Writer"/>
/// for memory and reads the block file into it, where a plain <see cref="Stream"/> would take a copy of a read
/// buffer (one copy of every served byte fewer; bench/README.md has the profile). Anything else written goes through
/// <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, as it would to the response's own stream.
/// </summary>
/// <param name="writer">The body's pipe (an HTTP response's <c>BodyWriter</c>).</param>
/// <param name="start">Sends the response's head, so that memory taken from the pipe holds body bytes.</param>
internal sealed class PipeBody(PipeWriter writer, Func<CancellationToken, Task> start) : Stream
{
    private bool _started;

    public PipeWriter Writer => writer;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Before the first direct read: the head goes out first (a no-op once the response has begun).</summary>
    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            await start(cancellationToken);
            _started = true;
        }
    }

    /// <summary>Hands <paramref name="count"/> bytes written into <see cref="Writer"/>'s memory to the client.</summary>
    public async ValueTask CommitAsync(int count, CancellationToken cancellationToken)
    {
        writer.Advance(count);
        var flushed = await writer.FlushAsync(cancellationToken);
        if (flushed.IsCanceled)
        {
            throw new OperationCanceledException("the response body's pipe was canceled", cancellationToken);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _started = true;
        var flushed = await writer.WriteAsync(buffer, cancellationToken);
        if (flushed.IsCanceled)
        {
            throw new OperationCanceledException("the response body's pipe was canceled", cancellationToken);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken) => await writer.FlushAsync(cancellationToken);

    public override void Flush()
    {
        // Writes flush as they go; a synchronous flush has nothing left to send.
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("the response body is written asynchronously");

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
