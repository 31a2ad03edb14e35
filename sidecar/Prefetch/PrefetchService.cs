using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.Hosting;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// Starts the config's prefetch jobs and keeps them following the dataset registry. Without gating it waits for
/// the application to have started, so prefetch never delays the first request (serverless cold starts pay for
/// every millisecond); with gating (WaitForReady) it starts at once, since readiness waits for it anyway.
/// </summary>
internal sealed class PrefetchService(PrefetchManager manager, IDatasetRegistry registry, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!manager.WaitForReady)
        {
            await WaitForApplicationStartedAsync(stoppingToken);
        }

        // Subscribe before the first Follow so no change slips between; Follow is idempotent.
        registry.Changed += manager.Follow;
        try
        {
            manager.Follow(registry.Current);
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            registry.Changed -= manager.Follow;
            await manager.CancelAllAsync();
        }
    }

    private async Task WaitForApplicationStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        await started.Task;
    }
}
