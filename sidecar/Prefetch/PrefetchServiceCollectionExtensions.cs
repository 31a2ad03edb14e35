using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Prefetch;

internal static class PrefetchServiceCollectionExtensions
{
    /// <summary>
    /// Registers the prefetch manager (also as <see cref="IPrefetchStatus"/> for /status and /metrics), the
    /// background service that follows the dataset registry, and the "prefetch" readiness check (tag "ready").
    /// Needs IObjectReader, IBlockCache and IDatasetRegistry registered. Factories, not reflection: AOT-clean.
    /// </summary>
    public static IServiceCollection AddPrefetch(this IServiceCollection services, PrefetchConfig config)
    {
        services.AddSingleton(sp => new PrefetchManager(
            config,
            sp.GetRequiredService<IObjectReader>(),
            sp.GetRequiredService<IBlockCache>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IPrefetchStatus>(sp => sp.GetRequiredService<PrefetchManager>());
        services.AddSingleton<IHostedService>(sp => new PrefetchService(
            sp.GetRequiredService<PrefetchManager>(),
            sp.GetRequiredService<Datasets.IDatasetRegistry>(),
            sp.GetRequiredService<IHostApplicationLifetime>()));
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            PrefetchReadinessCheck.Name,
            sp => new PrefetchReadinessCheck(sp.GetRequiredService<PrefetchManager>()),
            HealthStatus.Unhealthy,
            [PrefetchReadinessCheck.ReadyTag]));
        return services;
    }
}
