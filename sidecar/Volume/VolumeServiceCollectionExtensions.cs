using Fluid.Serverless.Sidecar.Volume;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

internal static class VolumeServiceCollectionExtensions
{
    /// <summary>
    /// Serves datasets on the shared volume (FUSE or copy, per <see cref="VolumeOptions.Mode"/>) as a hosted service,
    /// and exposes <see cref="IVolumeStatus"/> for /status and the "volumes" readiness check (registered by Hosting).
    /// Needs IDatasetRegistry and IObjectReader.
    /// </summary>
    public static IServiceCollection AddVolumes(this IServiceCollection services, VolumeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton<VolumeService>();
        services.AddSingleton<IVolumeStatus>(provider => provider.GetRequiredService<VolumeService>());
        services.AddHostedService(provider => provider.GetRequiredService<VolumeService>());
        return services;
    }
}
