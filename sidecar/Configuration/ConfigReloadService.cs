using System.Text.Json;
using Fluid.Serverless.Contracts;
using Microsoft.Extensions.Hosting;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Runs the watcher for the life of the process and hands each accepted config to the applier. The start-up config
/// was applied by the host before the listeners opened; if the file changed in between (the watcher's first read
/// differs in datasets or prefetch), that newer config is applied at once so no change is lost in the gap.
/// </summary>
internal sealed class ConfigReloadService(ConfigFileWatcher watcher, ConfigApplier applier, SidecarConfig startupConfig) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        watcher.ConfigChanged += Apply;
        await watcher.StartAsync(cancellationToken);
        if (watcher.Current is { } current && !SameLiveFields(current, startupConfig))
        {
            Apply(current);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        watcher.ConfigChanged -= Apply;
        return watcher.StopAsync(cancellationToken);
    }

    /// <summary>Throws (rejecting the config, old one kept) when a dataset cannot be built.</summary>
    private void Apply(SidecarConfig config) => applier.Apply(config);

    /// <summary>Datasets and prefetch are what a reload changes; compare them by their JSON (records hold lists).</summary>
    private static bool SameLiveFields(SidecarConfig a, SidecarConfig b) =>
        JsonSerializer.Serialize(new SidecarConfig { Datasets = a.Datasets, Prefetch = a.Prefetch }, ContractsJsonContext.Default.SidecarConfig)
        == JsonSerializer.Serialize(new SidecarConfig { Datasets = b.Datasets, Prefetch = b.Prefetch }, ContractsJsonContext.Default.SidecarConfig);
}
