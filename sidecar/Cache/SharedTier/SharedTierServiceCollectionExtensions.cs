using System.Collections;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;
using Microsoft.Extensions.DependencyInjection;
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
            sp.GetRequiredService<MetricsRegistry>().AddCollector(writer => SharedTierMetrics.Write(writer, tier.GetStatus()));
            return tier;
        });
        services.AddSingleton<ISharedBlockTier>(sp => sp.GetRequiredService<GuardedSharedBlockTier>());
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
