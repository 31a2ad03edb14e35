using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Contracts.Metrics;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>
/// The admin API on two listeners. The probe listener (the pod IP) is read-only: <c>/healthz</c> (liveness, runs no
/// check), <c>/readyz</c> (the checks tagged "ready") and <c>/metrics</c> (Prometheus text), GET/HEAD only, no
/// request bodies. The local listener (127.0.0.1) serves those and also <c>/status</c> (JSON), the prefetch API and
/// <c>POST /quitquitquit</c>, and refuses any caller that is not loopback (a second line of defence should that
/// listener ever be bound elsewhere). Anything else is 404.
/// </summary>
internal sealed class AdminEndpoints(
    PrometheusMeterExporter metrics,
    IDatasetRegistry datasets,
    SidecarConfig config,
    SidecarConfigSource configSource,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    IBlockCache? cache = null,
    IPrefetchStatus? prefetch = null,
    IVolumeStatus? volumes = null,
    ConfigFileWatcher? watcher = null,
    ISharedBlockTier? sharedTier = null)
{
    /// <summary>The probe listener takes no request bodies; a declared body larger than this is refused with 413.</summary>
    public const long ProbeMaxRequestBodyBytes = 0;

    private readonly DateTimeOffset _startedAt = time.GetUtcNow();

    /// <summary>The pod-IP listener: probes and scraping, read-only.</summary>
    public static void MapProbe(IApplicationBuilder probe)
    {
        probe.Use(static (context, next) => ReadOnlyRequestAsync(context, next));
        MapHealth(probe);
        var handler = probe.ApplicationServices.GetRequiredService<AdminEndpoints>();
        probe.Run(handler.HandleProbeAsync);
    }

    /// <summary>The 127.0.0.1 listener: the whole admin API, loopback callers only.</summary>
    public static void MapLocal(IApplicationBuilder admin)
    {
        admin.Use(static (context, next) => LoopbackOnlyAsync(context, next));
        MapHealth(admin);
        // The prefetch admin API (POST/GET/DELETE /prefetch…) uses routing inside this branch only.
        admin.UseRouting();
        admin.UseEndpoints(endpoints => endpoints.MapPrefetchAdmin());
        var handler = admin.ApplicationServices.GetRequiredService<AdminEndpoints>();
        admin.Run(handler.HandleAsync);
    }

    private static void MapHealth(IApplicationBuilder admin)
    {
        admin.UseHealthChecks("/healthz", new HealthCheckOptions { Predicate = static _ => false, ResponseWriter = WriteHealthReportAsync });
        admin.UseHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = static registration => registration.Tags.Contains(HealthCheckTags.Ready),
            ResponseWriter = WriteHealthReportAsync,
        });
    }

    /// <summary>
    /// Refuses a caller whose address is not loopback with 403: /status reveals sources and paths, /prefetch and
    /// /quitquitquit change the sidecar, so only processes in the pod may call them. Fails closed when the peer is
    /// unknown.
    /// </summary>
    internal static Task LoopbackOnlyAsync(HttpContext context, RequestDelegate next)
    {
        var peer = context.Connection.RemoteIpAddress;
        if (peer is not null && IPAddress.IsLoopback(peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer))
        {
            return next(context);
        }

        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(
            $"forbidden: {context.Request.Path.Value} is served only to callers inside the pod (127.0.0.1), not to {peer?.ToString() ?? "an unknown peer"}\n");
    }

    /// <summary>The probe listener answers GET/HEAD without a body; anything else is refused before any endpoint runs.</summary>
    private static Task ReadOnlyRequestAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.ContentLength > ProbeMaxRequestBodyBytes || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0))
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.Headers.Connection = "close";
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync("request body not accepted: the probe port serves only GET/HEAD of /healthz, /readyz and /metrics\n");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = ProbeMaxRequestBodyBytes;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }

        return next(context);
    }

    /// <summary>The probe listener after /healthz and /readyz: /metrics, else 404 naming where the rest lives.</summary>
    public Task HandleProbeAsync(HttpContext context)
    {
        if (context.Request.Path.Value == "/metrics")
        {
            return WriteMetricsAsync(context);
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(
            $"not found: this port serves only /healthz, /readyz and /metrics; /status, /prefetch and {SidecarDefaults.QuitPath} are served inside the pod only, on 127.0.0.1 (admin.localPort)\n");
    }

    public Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path.Value == SidecarDefaults.QuitPath)
        {
            return QuitAsync(context);
        }

        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }

        return context.Request.Path.Value switch
        {
            "/metrics" => WriteMetricsAsync(context),
            "/status" => WriteStatusAsync(context),
            _ => WriteNotFoundAsync(context),
        };
    }

    public SidecarStatus CreateStatus()
    {
        var snapshot = datasets.Current;
        var list = new List<DatasetStatus>(snapshot.Datasets.Count);
        foreach (var dataset in snapshot.Datasets.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            list.Add(new DatasetStatus(dataset.Name, dataset.Config.Source, dataset.Source.Identity, dataset.ReadOnly, dataset.Immutable, dataset.Config.MountPath));
        }

        CacheStatus? cacheStatus = null;
        if (cache is not null)
        {
            var s = cache.GetStatistics();
            var lookups = s.Hits + s.Misses;
            cacheStatus = new CacheStatus(config.Cache.Directory, s.Blocks, s.UsedBytes, s.QuotaBytes, s.Hits, s.Misses,
                lookups == 0 ? 0 : (double)s.Hits / lookups, s.Evictions, s.CorruptBlocksDropped, s.IndexLoaded);
        }

        var now = time.GetUtcNow();
        return new SidecarStatus(configSource.Origin, snapshot.Generation, _startedAt, (now - _startedAt).TotalSeconds, list, cacheStatus)
        {
            Prefetch = prefetch?.Snapshot(),
            VolumeMode = volumes?.Mode,
            Volumes = volumes?.Volumes,
            ConfigReload = watcher?.Status,
            SharedTier = sharedTier?.GetStatus(),
            Runtime = RuntimeStatus.Capture(),
        };
    }

    /// <summary>
    /// POST /quitquitquit: the app of a run-to-completion pod (a Job with a legacy, non-native sidecar) tells the
    /// sidecar it is done, so the pod can complete. GET is refused so a probe or a browser cannot stop it.
    /// </summary>
    private Task QuitAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "POST";
            return Task.CompletedTask;
        }

        lifetime.StopApplication();
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("stopping\n");
    }

    private async Task WriteMetricsAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        metrics.WriteTo(buffer);
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        context.Response.ContentLength = buffer.WrittenCount;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        }
    }

    private async Task WriteStatusAsync(HttpContext context)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(CreateStatus(), SidecarStatusJsonContext.Default.SidecarStatus);
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = json.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(json, context.RequestAborted);
        }
    }

    private static Task WriteNotFoundAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("not found: the admin port serves /healthz, /readyz, /metrics, /status, /prefetch and POST /quitquitquit\n");
    }

    /// <summary>"Healthy" or "Unhealthy" on the first line, then one line per check with its description.</summary>
    private static Task WriteHealthReportAsync(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder();
        text.Append(report.Status).Append('\n');
        foreach (var (name, entry) in report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append(": ").Append(entry.Status);
            if (!string.IsNullOrEmpty(entry.Description))
            {
                text.Append(" (").Append(entry.Description).Append(')');
            }

            text.Append('\n');
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }
}
