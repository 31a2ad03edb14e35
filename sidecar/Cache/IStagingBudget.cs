namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// The byte budget for files the sidecar stages on the cache volume before they reach a remote (<c>cache.stagingBytes</c>):
/// S3 upload spools and parts, and files written through the FUSE view. One budget for all of them, so together they
/// stay inside what the injector sized the volume for, beside the block cache's own quota.
/// </summary>
internal interface IStagingBudget
{
    long Capacity { get; }

    long Used { get; }

    /// <summary>Takes <paramref name="bytes"/> more when they fit; false (nothing taken) when they do not.</summary>
    bool TryReserve(long bytes);

    void Release(long bytes);
}
