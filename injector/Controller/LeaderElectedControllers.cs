using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// Runs the reconcilers on one replica only: every replica competes for a Lease (KubernetesClient's
/// <see cref="LeaderElector"/> with a <see cref="LeaseLock"/>); the holder runs them until it loses the Lease, then
/// competes again. Admission is unaffected: every replica serves /mutate from its own watch caches.
/// </summary>
internal sealed partial class LeaderElectedControllers(
    IKubernetes client,
    ControllerOptions options,
    string leaseNamespace,
    string identity,
    IReadOnlyList<IReconciler> reconcilers,
    Func<bool> cachesSynced,
    ControllerMetrics metrics,
    ILogger<LeaderElectedControllers> logger) : BackgroundService
{
    public string Identity => identity;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // lead only with a complete picture of the cluster: a half-listed pod cache would miss pods
        while (!cachesSynced())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var config = new LeaderElectionConfig(new LeaseLock(client, leaseNamespace, options.LeaseName, identity))
            {
                LeaseDuration = TimeSpan.FromSeconds(options.LeaseDurationSeconds),
                RenewDeadline = TimeSpan.FromSeconds(options.RenewDeadlineSeconds),
                RetryPeriod = TimeSpan.FromSeconds(options.RetryPeriodSeconds),
            };
            using var elector = new LeaderElector(config);
            CancellationTokenSource? leading = null;
            Task running = Task.CompletedTask;
            var led = false;
            elector.OnStartedLeading += () =>
            {
                led = true;
                leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                metrics.SetLeading(true);
                Log.Leading(logger, identity, leaseNamespace, options.LeaseName);
                running = RunReconcilersAsync(leading.Token);
            };
            elector.OnStoppedLeading += () =>
            {
                metrics.SetLeading(false);
                leading?.Cancel();
                Log.StoppedLeading(logger, identity);
            };
            try
            {
                await elector.RunUntilLeadershipLostAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // shutting down
            }
#pragma warning disable CA1031 // an election failure (API server away) must not end the process: compete again
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ElectionFailed(logger, exception.Message);
            }
            finally
            {
                metrics.SetLeading(false);
                leading?.Cancel();
                await running;
                leading?.Dispose();
                if (led && stoppingToken.IsCancellationRequested)
                {
                    await ReleaseAsync();
                }
            }

            if (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(config.RetryPeriod, stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// On shutdown, after the reconcilers stopped: hands the Lease back (holder cleared, duration 1 s, as client-go's
    /// ReleaseOnCancel does), so another replica leads within its retry period instead of waiting out the lease duration.
    /// Only a Lease this replica still holds is touched; a failure is logged and the Lease simply expires.
    /// </summary>
    private async Task ReleaseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(options.RenewDeadlineSeconds));
        try
        {
            var lease = new LeaseLock(client, leaseNamespace, options.LeaseName, identity);
            var record = await lease.GetAsync(timeout.Token);
            if (record.HolderIdentity != identity)
            {
                return;
            }

            var now = DateTime.UtcNow;
            var released = new LeaderElectionRecord
            {
                HolderIdentity = "",
                LeaseDurationSeconds = 1,
                AcquireTime = now,
                RenewTime = now,
                LeaderTransitions = record.LeaderTransitions,
            };
            if (await lease.UpdateAsync(released, timeout.Token))
            {
                Log.Released(logger, identity, leaseNamespace, options.LeaseName);
            }
        }
#pragma warning disable CA1031 // best effort on the way out: an unreleased Lease expires after its duration
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.ElectionFailed(logger, "releasing the Lease: " + exception.Message);
        }
    }

    private async Task RunReconcilersAsync(CancellationToken cancel)
    {
        await Task.WhenAll(reconcilers.Select(async reconciler =>
        {
            try
            {
                await reconciler.RunAsync(cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                // leadership lost
            }
#pragma warning disable CA1031 // a reconciler that fails is logged; the others keep running
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ReconcilerFailed(logger, reconciler.Name, exception.Message);
            }
        }));
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ControllerLeading, LogLevel.Information, "controller: {Identity} holds Lease {Namespace}/{Lease}; reconciling")]
        public static partial void Leading(ILogger logger, string identity, string @namespace, string lease);

        [LoggerMessage(EventIds.ControllerStoppedLeading, LogLevel.Information, "controller: {Identity} lost the Lease; standing by")]
        public static partial void StoppedLeading(ILogger logger, string identity);

        [LoggerMessage(EventIds.ControllerElectionFailed, LogLevel.Warning, "controller: leader election failed, competing again: {Reason}")]
        public static partial void ElectionFailed(ILogger logger, string reason);

        [LoggerMessage(EventIds.ControllerLeaseReleased, LogLevel.Information, "controller: {Identity} released Lease {Namespace}/{Lease} on shutdown")]
        public static partial void Released(ILogger logger, string identity, string @namespace, string lease);

        [LoggerMessage(EventIds.ControllerReconcilerFailed, LogLevel.Error, "controller: reconciler {Reconciler} stopped: {Reason}")]
        public static partial void ReconcilerFailed(ILogger logger, string reconciler, string reason);
    }
}
