using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Policy;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>Wires the leader-elected controller and its reconcilers (the caller adds the pod watch it reads).</summary>
internal static class ControllerRegistration
{
    public static IServiceCollection AddLeaderElectedController(this IServiceCollection services, ControllerOptions options, Func<bool> cachesSynced)
    {
        if (options.Validate() is { Count: > 0 } errors)
        {
            throw new InvalidOperationException(string.Join("; ", errors));
        }

        services.AddSingleton(options);
        services.AddSingleton<ControllerMetrics>();
        services.AddSingleton(provider => new PatchPacer(provider.GetRequiredService<TimeProvider>(), options.PatchesPerSecond, options.PatchBurst));
        services.AddSingleton<EventRecorder>();
        services.AddSingleton(provider => new DatasetReconciler(
            provider.GetRequiredService<IKubernetes>(),
            provider.GetRequiredService<ClusterState>(),
            provider.GetRequiredService<InjectorOptions>(),
            provider.GetRequiredService<PatchPacer>(),
            provider.GetRequiredService<EventRecorder>(),
            provider.GetRequiredService<ControllerMetrics>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<DatasetReconciler>>(),
            TimeSpan.FromMinutes(options.ResyncMinutes),
            options.DatasetStatus));
        services.AddSingleton(provider => new DataLoadReconciler(
            provider.GetRequiredService<IKubernetes>(),
            provider.GetRequiredService<ClusterState>(),
            provider.GetRequiredService<InjectorOptions>(),
            provider.GetRequiredService<PatchPacer>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<DataLoadReconciler>>(),
            TimeSpan.FromSeconds(options.DataLoadTickSeconds),
            new HttpPodMetricsSource(new HttpClient())));
        services.AddSingleton(provider => new LeaderElectedControllers(
            provider.GetRequiredService<IKubernetes>(),
            options,
            LeaseNamespace(options, provider.GetRequiredService<InjectorOptions>()),
            options.Identity is { Length: > 0 } identity ? identity : DefaultIdentity(),
            [provider.GetRequiredService<DatasetReconciler>(), provider.GetRequiredService<DataLoadReconciler>()],
            cachesSynced,
            provider.GetRequiredService<ControllerMetrics>(),
            provider.GetRequiredService<ILogger<LeaderElectedControllers>>()));
        services.AddHostedService(provider => provider.GetRequiredService<LeaderElectedControllers>());
        return services;
    }

    private static string LeaseNamespace(ControllerOptions options, InjectorOptions injector) =>
        options.LeaseNamespace is { Length: > 0 } configured ? configured
        : Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } own ? own
        : injector.InjectorNamespace;

    /// <summary>The pod name (POD_NAME from the downward API, else HOSTNAME) plus a random suffix: a restarted container
    /// is a new candidate, as in client-go.</summary>
    private static string DefaultIdentity() =>
        (Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod
            : Environment.GetEnvironmentVariable("HOSTNAME") is { Length: > 0 } host ? host
            : Environment.MachineName) + "_" + Guid.NewGuid().ToString("N")[..8];
}
