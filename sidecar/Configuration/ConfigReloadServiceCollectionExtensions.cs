using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Configuration;

public static class ConfigReloadServiceCollectionExtensions
{
    /// <summary>
    /// Live reload of the config file the sidecar started from: the watcher (also readable for /status) and the
    /// hosted service that hands each accepted config to the <see cref="ConfigApplier"/> (registered by the host,
    /// which applied the start-up config with it). Its metrics join the MetricsRegistry when there is one.
    /// </summary>
    public static IServiceCollection AddConfigReload(this IServiceCollection services, ConfigFileWatcherOptions options)
    {
        services.AddSingleton(sp =>
        {
            var watcher = new ConfigFileWatcher(
                options,
                ReloadConfigValidator.Validate,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<ILogger<ConfigFileWatcher>>());
            sp.GetService<MetricsRegistry>()?.AddCollector(writer => ConfigReloadMetrics.Write(writer, watcher.Status));
            return watcher;
        });
        services.AddSingleton<IHostedService>(sp => new ConfigReloadService(
            sp.GetRequiredService<ConfigFileWatcher>(),
            sp.GetRequiredService<ConfigApplier>(),
            sp.GetRequiredService<SidecarConfig>()));
        return services;
    }
}
