using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The read path every view shares: bytes of a dataset object through the block cache, with adaptive sequential
/// read-ahead (bounded by a global memory budget). The S3 endpoint streams with <see cref="CopyToAsync"/>; FUSE
/// and copy mode fill buffers with <see cref="ReadAsync"/>; prefetch warms blocks with <see cref="WarmAsync"/>.
/// </summary>
internal interface IObjectReader
{
    /// <summary>Writes bytes [offset, offset+length) of the object to <paramref name="destination"/> as blocks arrive.</summary>
    Task CopyToAsync(Dataset dataset, RemoteObject obj, long offset, long length, Stream destination, CancellationToken cancellationToken);

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; returns bytes read (short only at end of object).</summary>
    ValueTask<int> ReadAsync(Dataset dataset, RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>Makes every block of the object cached, at prefetch priority. Returns bytes fetched from the remote.</summary>
    Task<long> WarmAsync(Dataset dataset, RemoteObject obj, CancellationToken cancellationToken);
}
