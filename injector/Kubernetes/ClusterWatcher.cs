using System.Net;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Kubernetes;

/// <summary>
/// List+watch for Datasets, PVCs, Namespaces, InjectionPolicies and AlluxioRuntimes feeding the <see cref="ClusterState"/> that admission
/// reads, so admission never calls the API server. Each kind: list (replace the cache, mark synced), then watch from
/// the list's resourceVersion; when the watch ends or fails (e.g. 410 Gone) it relists with capped backoff.
/// A kind whose CRD is not installed (404) counts as synced and empty, and is retried later.
/// </summary>
internal sealed partial class ClusterWatcher(
    IKubernetes client,
    ClusterState state,
    CacheSyncStatus sync,
    TimeProvider time,
    ILogger<ClusterWatcher> logger,
    IReadOnlyList<WatchedResource>? resources = null) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MissingKindRetry = TimeSpan.FromMinutes(1);
    private readonly IReadOnlyList<WatchedResource> _resources = resources ?? WatchedResource.All;

    /// <summary>Registers every kind as pending before the server starts answering /readyz.</summary>
    public void ExpectAll()
    {
        foreach (var resource in _resources)
        {
            sync.Expect(resource.Kind);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_resources.Select(resource => RunAsync(resource, stoppingToken)));

    private async Task RunAsync(WatchedResource resource, CancellationToken cancel)
    {
        var backoff = TimeSpan.FromMilliseconds(500);
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                var (items, resourceVersion) = await resource.ListAsync(client, cancel);
                ClusterStateLoader.ReplaceAll(state, resource.Kind, items);
                sync.MarkSynced(resource.Kind);
                Log.Listed(logger, resource.Kind, items.Count, resourceVersion ?? "");
                backoff = TimeSpan.FromMilliseconds(500);

                await foreach (var (type, obj) in resource.WatchAsync(client, resourceVersion, cancel))
                {
                    if (obj is not JsonObject item)
                    {
                        continue;
                    }

                    item["kind"] ??= resource.Kind;
                    switch (type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified:
                            ClusterStateLoader.Apply(state, item);
                            break;
                        case WatchEventType.Deleted:
                            var (@namespace, name) = ClusterStateLoader.Key(item);
                            ClusterStateLoader.Remove(state, resource.Kind, @namespace, name);
                            break;
                        case WatchEventType.Error:
                            Log.WatchError(logger, resource.Kind, item.Str("message") ?? item.ToJsonString());
                            break;
                    }
                }

                Log.WatchEnded(logger, resource.Kind);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // the CRD is not installed (e.g. no InjectionPolicy yet): nothing to cache, do not block readiness
                ClusterStateLoader.ReplaceAll(state, resource.Kind, []);
                sync.MarkSynced(resource.Kind);
                Log.KindMissing(logger, resource.Kind);
                await DelayAsync(MissingKindRetry, cancel);
            }
#pragma warning disable CA1031 // a watch must survive any failure: log, back off, relist
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.WatchFailed(logger, resource.Kind, backoff.TotalSeconds, exception.Message);
                await DelayAsync(backoff, cancel);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancel)
    {
        try
        {
            await Task.Delay(delay, time, cancel);
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CacheListed, LogLevel.Information, "cache {Kind}: listed {Count} objects at resourceVersion {ResourceVersion}; watching")]
        public static partial void Listed(ILogger logger, string kind, int count, string resourceVersion);

        [LoggerMessage(EventIds.WatchEnded, LogLevel.Debug, "cache {Kind}: watch ended; relisting")]
        public static partial void WatchEnded(ILogger logger, string kind);

        [LoggerMessage(EventIds.WatchError, LogLevel.Warning, "cache {Kind}: watch error event: {Message}")]
        public static partial void WatchError(ILogger logger, string kind, string message);

        [LoggerMessage(EventIds.KindMissing, LogLevel.Warning, "cache {Kind}: resource not found on the API server (CRD not installed?); treating as empty")]
        public static partial void KindMissing(ILogger logger, string kind);

        [LoggerMessage(EventIds.WatchFailed, LogLevel.Warning, "cache {Kind}: list/watch failed, retrying in {Seconds}s: {Reason}")]
        public static partial void WatchFailed(ILogger logger, string kind, double seconds, string reason);
    }
}
