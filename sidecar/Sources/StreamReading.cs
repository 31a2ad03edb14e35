using System.Buffers;

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

    /// <summary>Reads and drops <paramref name="count"/> bytes (an origin that ignored Range sent the whole object).</summary>
    public static async ValueTask SkipAsync(Stream body, long count, string key, CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (count > 0)
            {
                var read = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"response body for '{key}' ended before offset {count} was reached");
                }

                count -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}
