namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Where a streamed range read (<see cref="IObjectSource.ReadIntoAsync"/>) puts its bytes: consecutive parts (cache
/// blocks) handed out one at a time. A source writes into <see cref="GetBuffer"/> and reports with
/// <see cref="Advance"/>; the sink finishes each part the moment it is full, so the first part of a long range is
/// usable long before the body ends. <see cref="Offset"/> and <see cref="Remaining"/> always describe what is still
/// missing: a retry resumes there instead of fetching the finished parts again.
/// </summary>
internal abstract class RangeSink
{
    /// <summary>Object offset of the next byte wanted.</summary>
    public abstract long Offset { get; }

    /// <summary>Bytes still wanted (0 = done).</summary>
    public abstract long Remaining { get; }

    /// <summary>The unfilled rest of the current part; not empty while <see cref="Remaining"/> is above 0.</summary>
    public abstract Memory<byte> GetBuffer();

    /// <summary>Records <paramref name="count"/> bytes written at the start of the last <see cref="GetBuffer"/>.</summary>
    public abstract void Advance(int count);

    /// <summary>
    /// The fallback for sources without a streamed read (and for tests): one <see cref="IObjectSource.ReadAsync"/>
    /// per part. Correct everywhere; only costs one request per part.
    /// </summary>
    public static async ValueTask ReadPartByPartAsync(IObjectSource source, RemoteObject obj, RangeSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sink);
        while (sink.Remaining > 0)
        {
            var buffer = sink.GetBuffer();
            await source.ReadAsync(obj, sink.Offset, buffer, cancellationToken);
            sink.Advance(buffer.Length);
        }
    }

    /// <summary>Copies a response body into the sink until it has everything; a body that ends early is an <see cref="IOException"/>.</summary>
    internal static async ValueTask FillFromAsync(Stream body, RangeSink sink, string key, CancellationToken cancellationToken)
    {
        while (sink.Remaining > 0)
        {
            var read = await body.ReadAsync(sink.GetBuffer(), cancellationToken);
            if (read == 0)
            {
                throw new IOException($"response body for '{key}' ended with {sink.Remaining} bytes still expected");
            }

            sink.Advance(read);
        }
    }
}
