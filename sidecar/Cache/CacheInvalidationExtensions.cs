using Fluid.Serverless.Sidecar.Datasets;

namespace Fluid.Serverless.Sidecar.Cache;

internal static class CacheInvalidationExtensions
{
    /// <summary>
    /// After a write, delete or copy through the sidecar: forgets the object's cached metadata (HEAD, covering
    /// listings) and drops its cached blocks, so every view sees the new version at once.
    /// </summary>
    public static void InvalidateObject(this IBlockCache cache, Dataset dataset, string key)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(key);
        if (dataset.Source is MetadataCachingObjectSource metadata)
        {
            metadata.Invalidate(key);
        }

        cache.Invalidate(dataset.Source.Identity, key);
    }
}
