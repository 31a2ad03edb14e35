using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Prefetch;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Configuration;

public static class ConfigReloadServiceCollectionExtensions
{
    /// <summary>
    /// Live reload of the config file the sidecar started from: the watcher (also readable for /status), the applier
    /// (datasets through <see cref="DatasetRegistry"/>, prefetch settings through the prefetch manager when
    /// <c>AddPrefetch</c> registered one) and the hosted service that connects them. Needs DatasetRegistry and the
    /// start-up <see cref="SidecarConfig"/> registered. Its metrics join the MetricsRegistry when there is one.
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
        services.AddSingleton(sp => new ConfigApplier(
            sp.GetRequiredService<DatasetRegistry>(),
            sp.GetService<PrefetchManager>(),
            sp.GetRequiredService<SidecarConfig>(),
            sp.GetRequiredService<ILogger<ConfigApplier>>()));
        services.AddSingleton<IHostedService>(sp => new ConfigReloadService(
            sp.GetRequiredService<ConfigFileWatcher>(),
            sp.GetRequiredService<ConfigApplier>(),
            sp.GetRequiredService<SidecarConfig>()));
        return services;
    }
}
