using System.Collections;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

internal static class SharedTierServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISharedBlockTier"/> when the config has a <c>sharedCache</c> section (nothing otherwise), and
    /// its figures on /metrics. Secrets are read from the env vars the section names.
    /// </summary>
    public static IServiceCollection AddSharedBlockTier(this IServiceCollection services, SharedCacheConfig? config, IDictionary environment)
    {
        if (config is null)
        {
            return services;
        }

        services.AddSingleton(sp =>
        {
            var tier = Create(config, environment, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>());
            SharedTierMetrics.Register(sp.GetRequiredService<SidecarMeter>(), tier.GetStatus);
            return tier;
        });
        services.AddSingleton<ISharedBlockTier>(sp => sp.GetRequiredService<GuardedSharedBlockTier>());
        // Created when the host starts, so the engine is being reached (in the background) before the first read.
        services.AddHostedService(sp => new SharedTierStarter(sp.GetRequiredService<GuardedSharedBlockTier>()));
        return services;
    }

    public static GuardedSharedBlockTier Create(SharedCacheConfig config, IDictionary environment, TimeProvider timeProvider, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(loggers);
        var options = SharedTierOptions.From(config);
        var logger = loggers.CreateLogger("Fluid.Serverless.Sidecar.SharedTier");
        ISharedTierStore store = config.Engine == SharedCacheEngines.S3
            ? S3TierStore.Create(config.Endpoint, config.Region, config.Bucket!, Read(environment, config.AccessKeyIdEnv), Read(environment, config.SecretAccessKeyEnv))
            : new RedisTierStore(
                RedisTierStore.CreateOptions(config.Endpoints, Read(environment, config.UserEnv), Read(environment, config.PasswordEnv), config.Tls, options.Timeout),
                logger);
        return new GuardedSharedBlockTier(store, options, timeProvider, logger);
    }

    private static string? Read(IDictionary environment, string? name) => name is null ? null : environment[name] as string;
}

/// <summary>Holds the tier so the host creates it at start; connecting happens in the background and delays nothing.</summary>
internal sealed class SharedTierStarter(GuardedSharedBlockTier tier) : IHostedService
{
    public GuardedSharedBlockTier Tier { get; } = tier;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
