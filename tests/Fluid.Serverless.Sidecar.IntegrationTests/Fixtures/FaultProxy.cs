using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>What the proxy does to one request instead of (or before) forwarding it.</summary>
public abstract record Fault
{
    /// <summary>Answer with this status and an S3-style error body; nothing is forwarded.</summary>
    public sealed record Status(int Code, string ErrorCode = "InternalError") : Fault;

    /// <summary>Drop the connection without an answer (the client sees a reset).</summary>
    public sealed record Reset : Fault;

    /// <summary>Forward, send the headers and half the body, then drop the connection.</summary>
    public sealed record TruncateBody : Fault;

    /// <summary>Forward, then send the body in <paramref name="ChunkBytes"/> pieces with <paramref name="Pause"/> between them.</summary>
    public sealed record SlowBody(TimeSpan Pause, int ChunkBytes = 16 * 1024) : Fault;

    /// <summary>Wait, then forward normally.</summary>
    public sealed record Latency(TimeSpan Delay) : Fault;
}

/// <summary>
/// A user-space HTTP forwarder on 127.0.0.1 (Kestrel) between a source and its real remote (moto, nginx), injecting
/// faults this kernel cannot (no tc netem): 5xx answers, resets, truncated or slow bodies, latency — on chosen
/// requests, on a share of them, or on all. The Host header is forwarded as the client sent it, so signed S3 requests
/// stay as signed.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly HttpClient upstreamClient;
    private readonly Uri upstream;
    private readonly Lock gate = new();
    private readonly Queue<Fault> nextFaults = new();
    private Fault? allFault;
    private (double Share, Fault Fault, Random Random)? shareFault;
    private readonly List<string> hosts = [];
    private readonly List<string> ranges = [];
    private readonly List<string> paths = [];
    private readonly string pathPrefix;
    private int requestCount;

    private FaultProxy(WebApplication app, Uri upstream, string pathPrefix)
    {
        this.app = app;
        this.upstream = upstream;
        this.pathPrefix = pathPrefix;
        upstreamClient = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, AllowAutoRedirect = false, UseCookies = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>http://127.0.0.1:port</summary>
    public string Endpoint { get; private set; } = "";

    /// <summary>Host headers of the requests received, in order (shows virtual-hosted vs path-style addressing).</summary>
    public IReadOnlyList<string> Hosts
    {
        get
        {
            lock (gate)
            {
                return [.. hosts];
            }
        }
    }

    /// <summary>Range headers of the requests received, in order ("" when a request had none).</summary>
    public IReadOnlyList<string> Ranges
    {
        get
        {
            lock (gate)
            {
                return [.. ranges];
            }
        }
    }

    /// <summary>Request paths received, in order, as the client sent them (before any prefix is taken off).</summary>
    public IReadOnlyList<string> Paths
    {
        get
        {
            lock (gate)
            {
                return [.. paths];
            }
        }
    }

    /// <summary>Requests that reached the proxy (faulted or not).</summary>
    public int RequestCount => Volatile.Read(ref requestCount);

    /// <summary>
    /// Starts the proxy. With <paramref name="pathPrefix"/> (e.g. "/api/v1/s3", as Alluxio's S3 gateway serves), only
    /// requests under it are forwarded, without it; any other path gets 404 NoSuchBucket, as a gateway would answer.
    /// </summary>
    public static async Task<FaultProxy> StartAsync(string upstreamBase, string pathPrefix = "")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var proxy = new FaultProxy(app, new Uri(upstreamBase), pathPrefix);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy.Endpoint = address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        return proxy;
    }

    /// <summary>The next <paramref name="count"/> requests get <paramref name="fault"/>; later ones are forwarded.</summary>
    public void FailNext(int count, Fault fault)
    {
        lock (gate)
        {
            for (var i = 0; i < count; i++)
            {
                nextFaults.Enqueue(fault);
            }
        }
    }

    /// <summary>A share of requests (0..1, seeded so runs repeat) get <paramref name="fault"/>.</summary>
    public void FailShare(double share, Fault fault, int seed)
    {
        lock (gate)
        {
            shareFault = (share, fault, new Random(seed));
        }
    }

    /// <summary>Every request gets <paramref name="fault"/> until <see cref="Heal"/>.</summary>
    public void FailAll(Fault fault)
    {
        lock (gate)
        {
            allFault = fault;
        }
    }

    public void Heal()
    {
        lock (gate)
        {
            nextFaults.Clear();
            allFault = null;
            shareFault = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        upstreamClient.Dispose();
    }

    private Fault? NextFault()
    {
        lock (gate)
        {
            if (nextFaults.TryDequeue(out var next))
            {
                return next;
            }

            if (allFault is not null)
            {
                return allFault;
            }

            if (shareFault is { } share && share.Random.NextDouble() < share.Share)
            {
                return share.Fault;
            }

            return null;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref requestCount);
        lock (gate)
        {
            hosts.Add(context.Request.Host.Value ?? "");
            ranges.Add(context.Request.Headers.Range.ToString());
            paths.Add(context.Request.Path.ToUriComponent());
        }

        var path = context.Request.Path;
        if (pathPrefix.Length > 0 && !path.StartsWithSegments(pathPrefix, StringComparison.Ordinal, out path))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("<Error><Code>NoSuchBucket</Code><Message>not under the gateway's path</Message></Error>");
            return;
        }

        var fault = NextFault();
        switch (fault)
        {
            case Fault.Status status:
                context.Response.StatusCode = status.Code;
                context.Response.ContentType = "application/xml";
                await context.Response.WriteAsync(
                    $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{status.ErrorCode}</Code><Message>injected by FaultProxy</Message><RequestId>fault</RequestId></Error>");
                return;
            case Fault.Reset:
                context.Abort();
                return;
            case Fault.Latency latency:
                await Task.Delay(latency.Delay, context.RequestAborted);
                break;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(upstream, path.ToUriComponent() + context.Request.QueryString.ToUriComponent()));
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(context.Request.Body);
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        using var response = await upstreamClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!string.Equals(name, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        switch (fault)
        {
            case Fault.TruncateBody:
                var half = (response.Content.Headers.ContentLength ?? 2) / 2;
                await CopyAsync(body, context, half, TimeSpan.Zero, 16 * 1024);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                context.Abort();
                return;
            case Fault.SlowBody slow:
                await CopyAsync(body, context, long.MaxValue, slow.Pause, slow.ChunkBytes);
                return;
            default:
                await CopyAsync(body, context, long.MaxValue, TimeSpan.Zero, 64 * 1024);
                return;
        }
    }

    private static async Task CopyAsync(Stream body, HttpContext context, long limit, TimeSpan pause, int chunkBytes)
    {
        var buffer = new byte[chunkBytes];
        long sent = 0;
        while (sent < limit)
        {
            var read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - sent)), context.RequestAborted);
            if (read == 0)
            {
                return;
            }

            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
            sent += read;
            if (pause > TimeSpan.Zero)
            {
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(pause, context.RequestAborted);
            }
        }
    }
}
