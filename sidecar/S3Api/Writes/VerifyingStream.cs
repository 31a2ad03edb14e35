namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Feeds every byte read to the declared digests and, on the read that reaches the end, checks them and the
/// declared length. The end-of-body read throws on a mismatch, so a consumer that commits only after reading to the
/// end (a PUT, a CompleteMultipartUpload) never commits bad bytes.
/// </summary>
/// <remarks>
/// With a declared length the check runs one read earlier: the read that yields the last declared byte first reads
/// the client's body to its end (the aws-chunked final chunk and trailers) and verifies, and only then returns.
/// A consumer that streams the bytes on with that length (an UploadPart to the remote with a Content-Length) thus
/// never gets the last bytes of a bad body: its request stays short of its Content-Length and is cut, so the remote
/// stores no part from it.
/// </remarks>
internal sealed class VerifyingStream(Stream inner, List<DigestCheck> checks, long? declaredLength) : ForwardReadStream
{
    private long _length;
    private bool _verified;

    public long BytesRead => _length;

    /// <summary>The body's SHA-256 (lower-case hex) as declared by x-amz-content-sha256, when this stream verifies it.</summary>
    public string? VerifiedSha256Hex { get; init; }

    /// <summary>The client's Content-MD5 (base64), verified here unless the remote was to check it.</summary>
    public string? ContentMd5 { get; init; }

    /// <summary>The decoded body length the request declared (x-amz-decoded-content-length or Content-Length), if any.</summary>
    public long? DeclaredLength => declaredLength;

    public override long Length => declaredLength ?? throw new NotSupportedException();
    public override long Position { get => _length; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (destination.Length == 0 || _verified)
        {
            return 0;
        }

        var read = await inner.ReadAsync(destination, cancellationToken);
        if (read == 0)
        {
            Verify();
            return 0;
        }

        _length += read;
        if (declaredLength is { } limit && _length > limit)
        {
            throw UploadRejectedException.InvalidRequest($"The body is longer than its declared length of {limit} bytes; nothing was stored.");
        }

        if (_length > WriteResponder.MaxPartSize)
        {
            // A body without a declared length (Transfer-Encoding: chunked) is held to S3's limit as it streams.
            throw UploadRejectedException.EntityTooLarge(_length);
        }

        var span = destination.Span[..read];
        foreach (var check in checks)
        {
            check.Append(span);
        }

        if (_length == declaredLength)
        {
            await VerifyAtDeclaredEndAsync(cancellationToken);
        }

        return read;
    }

    /// <summary>All declared bytes are in: the body must end here (trailers read), and its digests must match.</summary>
    private async ValueTask VerifyAtDeclaredEndAsync(CancellationToken cancellationToken)
    {
        var probe = new byte[1];
        if (await inner.ReadAsync(probe, cancellationToken) != 0)
        {
            throw UploadRejectedException.InvalidRequest($"The body is longer than its declared length of {declaredLength} bytes; nothing was stored.");
        }

        Verify();
    }

    private void Verify()
    {
        if (_verified)
        {
            return;
        }

        if (declaredLength is { } expected && _length != expected)
        {
            throw UploadRejectedException.IncompleteBody($"The body has {_length} bytes but its declared length is {expected}; nothing was stored.");
        }

        foreach (var check in checks)
        {
            check.Verify();
        }

        _verified = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
