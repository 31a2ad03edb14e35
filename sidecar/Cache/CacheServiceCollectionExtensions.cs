using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Fluid.Serverless.Sidecar.Cache;

internal static class CacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers the one block cache (<see cref="IBlockCache"/>) and read path (<see cref="IObjectReader"/>) that
    /// the S3 endpoint, FUSE, copy mode and prefetch share. The index scan starts once the host has started, so
    /// it never delays readiness.
    /// (Dataset sources get the metadata cache from the host's <c>MetadataCachingSourceFactory</c>.) Throws <see cref="ArgumentException"/> naming the bad cache field.
    /// </summary>
    public static IServiceCollection AddBlockCache(this IServiceCollection services, CacheConfig cache, PrefetchConfig? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(DiskBlockCacheOptions.From(cache, prefetch) with { DeferIndexLoad = true });
        services.AddSingleton(ObjectReaderOptions.From(cache));
        services.AddSingleton<DiskBlockCache>();
        services.AddSingleton<IBlockCache>(static sp => sp.GetRequiredService<DiskBlockCache>());
        services.AddSingleton<ObjectReader>();
        services.AddSingleton<IObjectReader>(static sp => sp.GetRequiredService<ObjectReader>());
        services.AddHostedService<BlockCacheIndexLoader>();
        return services;
    }
}

/// <summary>Starts the block cache's background index scan once the application has started serving.</summary>
internal sealed class BlockCacheIndexLoader(DiskBlockCache cache, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(cache.StartIndexLoad);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
