using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// An in-process stand-in for an S3 endpoint that records each request's <c>Authorization</c> and
/// <c>x-amz-security-token</c> headers and answers every GET with the same small object. It checks no signature: the
/// tests read which access key and session token the client signed with.
/// </summary>
public sealed class RecordingS3Server : IAsyncDisposable
{
    public static readonly byte[] Body = "hello"u8.ToArray();

    private readonly WebApplication app;

    private RecordingS3Server(WebApplication app) => this.app = app;

    public string Endpoint { get; private set; } = "";

    public List<(string Authorization, string? SecurityToken)> Requests { get; } = [];

    public static async Task<RecordingS3Server> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new RecordingS3Server(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    private Task HandleAsync(HttpContext context)
    {
        lock (Requests)
        {
            Requests.Add((context.Request.Headers.Authorization.ToString(), context.Request.Headers["x-amz-security-token"].FirstOrDefault()));
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = Body.Length;
        context.Response.Headers.ETag = "\"5d41402abc4b2a76b9719d911017c592\"";
        context.Response.Headers.LastModified = "Sun, 06 Dec 2026 00:00:00 GMT";
        return context.Response.Body.WriteAsync(Body).AsTask();
    }
}
