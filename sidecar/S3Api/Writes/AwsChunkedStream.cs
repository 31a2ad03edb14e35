using System.Buffers;
using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Decodes the aws-chunked framing of STREAMING-* payloads: <c>hex-size[;chunk-signature=sig]\r\n data \r\n</c>
/// repeated, a final zero-size chunk, then optional trailer lines (<c>x-amz-checksum-crc32:…</c>) and an empty line.
/// Streams: only the framing lines are buffered, and each is bounded (<see cref="MaxLineLength"/>), so a client
/// cannot make the sidecar hold an unbounded header. Trailers are available once the stream returned 0.
/// </summary>
internal sealed class AwsChunkedStream : ForwardReadStream
{
    public const int MaxLineLength = 4096;
    private const int MaxTrailers = 16;

    private readonly Stream _inner;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _position;
    private int _end;
    private long _chunkRemaining;
    private bool _inChunk;
    private bool _seenChunk;
    private bool _done;

    private readonly Auth.ChunkSignatureChain? _signatures;

    /// <param name="signatures">When the request was SigV4-verified with a signed streaming payload: the chain every chunk must continue.</param>
    public AwsChunkedStream(Stream inner, Auth.ChunkSignatureChain? signatures = null)
    {
        _inner = inner;
        _signatures = signatures;
    }

    public Dictionary<string, string> Trailers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_done || destination.Length == 0)
        {
            return 0;
        }

        while (!_inChunk || _chunkRemaining == 0)
        {
            if (_inChunk)
            {
                // The data of the previous chunk ends with CRLF.
                var end = await ReadLineAsync(cancellationToken);
                if (end.Length != 0)
                {
                    throw Malformed("a chunk's data is not followed by CRLF (the chunk is longer than its declared size)");
                }

                _inChunk = false;
                _signatures?.EndChunk();
            }

            var header = await ReadLineAsync(cancellationToken);
            var size = ParseChunkHeader(header);
            if (_signatures is not null)
            {
                var at = header.IndexOf(";chunk-signature=", StringComparison.Ordinal);
                _signatures.BeginChunk(at < 0 ? "" : header[(at + ";chunk-signature=".Length)..]);
            }
            _seenChunk = true;
            if (size == 0)
            {
                _signatures?.EndChunk();
                await ReadTrailersAsync(cancellationToken);
                _done = true;
                return 0;
            }

            _chunkRemaining = size;
            _inChunk = true;
        }

        int read;
        var wanted = (int)Math.Min(destination.Length, _chunkRemaining);
        if (_position < _end)
        {
            read = Math.Min(wanted, _end - _position);
            _buffer.AsMemory(_position, read).CopyTo(destination);
            _position += read;
        }
        else
        {
            read = await _inner.ReadAsync(destination[..wanted], cancellationToken);
            if (read == 0)
            {
                throw UploadRejectedException.IncompleteBody("The request body ended inside an aws-chunked chunk.");
            }
        }

        _signatures?.Append(destination.Span[..read]);

        _chunkRemaining -= read;
        return read;
    }

    /// <summary>The chunk size; the chunk-signature extension is checked by the signature chain when SigV4 is on.</summary>
    private static long ParseChunkHeader(string header)
    {
        var semicolon = header.IndexOf(';', StringComparison.Ordinal);
        var hex = semicolon < 0 ? header : header[..semicolon];
        if (semicolon >= 0 && !header.AsSpan(semicolon + 1).StartsWith("chunk-signature=", StringComparison.Ordinal))
        {
            throw Malformed($"unknown chunk extension '{Truncate(header[(semicolon + 1)..])}' (expected chunk-signature=)");
        }

        if (hex.Length is 0 or > 15 || !long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size))
        {
            throw Malformed($"chunk size '{Truncate(hex)}' is not a hexadecimal number");
        }

        return size;
    }

    private async ValueTask ReadTrailersAsync(CancellationToken cancellationToken)
    {
        var lines = new List<KeyValuePair<string, string>>();
        string? trailerSignature = null;
        for (var count = 0; ; count++)
        {
            var line = await ReadLineAsync(cancellationToken, endOfStreamIsEmptyLine: true);
            if (line.Length == 0)
            {
                if (_signatures is not null && (lines.Count > 0 || trailerSignature is not null))
                {
                    _signatures.VerifyTrailer(lines, trailerSignature);
                }

                return;
            }

            if (count == MaxTrailers)
            {
                throw Malformed($"more than {MaxTrailers} trailer lines");
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw Malformed($"trailer line '{Truncate(line)}' is not 'name:value'");
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("x-amz-trailer-signature", StringComparison.OrdinalIgnoreCase))
            {
                trailerSignature = value;
                continue;
            }

            lines.Add(new(name, value));
            Trailers[name] = value;
        }
    }

    /// <summary>One CRLF-terminated line (a bare LF is accepted), without its terminator.</summary>
    private async ValueTask<string> ReadLineAsync(CancellationToken cancellationToken, bool endOfStreamIsEmptyLine = false)
    {
        var scanned = 0;
        while (true)
        {
            var newline = _buffer.AsSpan(_position + scanned, _end - _position - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var length = scanned + newline;
                if (length > MaxLineLength)
                {
                    throw Malformed($"a chunk header or trailer line is longer than {MaxLineLength} bytes");
                }

                var lineEnd = length > 0 && _buffer[_position + length - 1] == '\r' ? length - 1 : length;
                var line = Encoding.ASCII.GetString(_buffer, _position, lineEnd);
                _position += length + 1;
                return line;
            }

            scanned = _end - _position;
            if (scanned > MaxLineLength)
            {
                throw Malformed($"a chunk header or trailer line is longer than {MaxLineLength} bytes");
            }

            if (_position > 0)
            {
                Buffer.BlockCopy(_buffer, _position, _buffer, 0, scanned);
                _position = 0;
                _end = scanned;
            }

            var read = await _inner.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                if (endOfStreamIsEmptyLine && scanned == 0)
                {
                    return "";
                }

                throw UploadRejectedException.IncompleteBody(_seenChunk
                    ? "The request body ended before the final aws-chunked chunk."
                    : "The request body ended before the first aws-chunked chunk header.");
            }

            _end += read;
        }
    }

    private static UploadRejectedException Malformed(string what) =>
        UploadRejectedException.InvalidRequest("Malformed aws-chunked request body: " + what + ".");

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    protected override void Dispose(bool disposing)
    {
        if (disposing && _buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }

        base.Dispose(disposing);
    }
}
