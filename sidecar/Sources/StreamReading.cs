namespace Fluid.Serverless.Sidecar.Sources;

internal static class StreamReading
{
    /// <summary>
    /// Reads exactly <paramref name="destination"/>.Length bytes. A body that ends early is an
    /// <see cref="IOException"/> (transient: the connection broke), so the read is retried, never served short.
    /// </summary>
    public static async ValueTask FillAsync(Stream body, Memory<byte> destination, string key, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < destination.Length)
        {
            var read = await body.ReadAsync(destination[filled..], cancellationToken);
            if (read == 0)
            {
                throw new IOException($"response body for '{key}' ended after {filled} of {destination.Length} bytes");
            }

            filled += read;
        }
    }
}
