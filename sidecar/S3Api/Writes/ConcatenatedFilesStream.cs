namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>Reads files one after the other as one forward-only stream (the parts of a staged multipart upload).</summary>
internal sealed class ConcatenatedFilesStream(IReadOnlyList<string> paths) : ForwardReadStream
{
    private int _next;
    private FileStream? _current;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_current is null)
            {
                if (_next == paths.Count || destination.Length == 0)
                {
                    return 0;
                }

                _current = new FileStream(paths[_next++], FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }

            var read = await _current.ReadAsync(destination, cancellationToken);
            if (read > 0)
            {
                return read;
            }

            await _current.DisposeAsync();
            _current = null;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
            _current = null;
        }

        base.Dispose(disposing);
    }
}
