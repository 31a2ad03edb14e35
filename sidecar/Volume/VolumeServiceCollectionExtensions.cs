using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Volume;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

public static class VolumeServiceCollectionExtensions
{
    /// <summary>
    /// Serves datasets on the shared volume (FUSE or copy, per <see cref="VolumeOptions.Mode"/>) as a hosted service,
    /// exposes <see cref="IVolumeStatus"/> for /status and adds the "volumes" readiness check (/readyz).
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
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "volumes", provider => new VolumeReadinessCheck(provider.GetRequiredService<IVolumeStatus>()), HealthStatus.Unhealthy, [ReadinessChecks.Tag]));
        return services;
    }
}
