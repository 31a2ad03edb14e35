namespace Fluid.Serverless.Sidecar.Sources.Writes;

/// <summary>
/// A forward-only body of a known length that reports itself seekable: AWSSDK.S3 wraps an UploadPart body in a
/// part window that insists on a seekable stream, although it only reads it front to back (the sidecar's client
/// has no retries that would rewind). A seek to the current position is allowed; any other seek fails loudly.
/// </summary>
internal sealed class ForwardOnlyPartStream(Stream inner, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(destination, cancellationToken);
        _position += read;
        return read;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };
        return target == _position
            ? _position
            : throw new NotSupportedException($"the part body streams from the client and cannot seek from {_position} to {target}");
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
