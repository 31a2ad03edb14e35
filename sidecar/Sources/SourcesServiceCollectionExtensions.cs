using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Sources;

public static class SourcesServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISourceFactory"/> (every source scheme, each wrapped in its resilience pipeline). Secrets
    /// come from the process environment; time from the registered <see cref="TimeProvider"/> (System by default).
    /// </summary>
    public static IServiceCollection AddObjectSources(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISourceFactory>(provider => new SourceFactory(
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
