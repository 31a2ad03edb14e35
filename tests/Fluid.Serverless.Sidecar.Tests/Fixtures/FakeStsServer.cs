using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// A FAKE STS on in-process Kestrel (neither AWS STS nor Alibaba Cloud STS is reachable here). It answers the two
/// web-identity exchanges in the shapes the clouds document: AWS <c>AssumeRoleWithWebIdentity</c> (form POST, XML
/// <c>AssumeRoleWithWebIdentityResponse</c>, XML <c>ErrorResponse</c> on failure) and Alibaba
/// <c>AssumeRoleWithOIDC</c> (RPC form, JSON <c>Credentials</c> with <c>AccessKeySecret</c>/<c>SecurityToken</c>,
/// JSON <c>Code</c>/<c>Message</c> on failure). Every call issues new keys (KEY1, KEY2, …) that expire
/// <see cref="Lifetime"/> after <see cref="Now"/>, and records the form it was sent.
/// </summary>
public sealed class FakeStsServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private int issued;

    private FakeStsServer(WebApplication app) => this.app = app;

    public Uri Endpoint { get; private set; } = null!;

    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    public Func<DateTimeOffset> Now { get; set; } = () => DateTimeOffset.UtcNow;

    /// <summary>When set, every call is refused with this error code (HTTP 400 for AWS, 400 for Alibaba).</summary>
    public string? RefuseWith { get; set; }

    public List<IReadOnlyDictionary<string, string>> Calls { get; } = [];

    public int Issued => Volatile.Read(ref issued);

    public static async Task<FakeStsServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeStsServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var fields = form.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        lock (Calls)
        {
            Calls.Add(fields);
        }

        var action = fields.GetValueOrDefault("Action");
        var n = Interlocked.Increment(ref issued);
        var expiration = (Now() + Lifetime).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        if (action == "AssumeRoleWithWebIdentity")
        {
            context.Response.ContentType = "text/xml";
            if (RefuseWith is { } code)
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync($"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>the token was refused</Message></Error><RequestId>r-{n}</RequestId></ErrorResponse>");
                return;
            }

            await context.Response.WriteAsync(
                "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
                + $"<Credentials><AccessKeyId>KEY{n}</AccessKeyId><SecretAccessKey>secret{n}</SecretAccessKey><SessionToken>session{n}</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
                + "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
            return;
        }

        if (action == "AssumeRoleWithOIDC")
        {
            context.Response.ContentType = "application/json";
            if (RefuseWith is { } code)
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["RequestId"] = $"r-{n}", ["Code"] = code, ["Message"] = "the token was refused" }));
                return;
            }

            await context.Response.WriteAsync(
                $$$"""{"RequestId":"r-{{{n}}}","Credentials":{"AccessKeyId":"KEY{{{n}}}","AccessKeySecret":"secret{{{n}}}","SecurityToken":"session{{{n}}}","Expiration":"{{{expiration}}}"}}""");
            return;
        }

        context.Response.StatusCode = 400;
        await context.Response.WriteAsync("unknown Action");
    }
}
