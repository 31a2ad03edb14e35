using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Fluid.Serverless.Injector.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Tests.Testing;

/// <summary>
/// A deliberately small FAKE Kubernetes API server (there is no real one on these machines): plain HTTP on 127.0.0.1,
/// serving /version, list and watch (newline-delimited JSON events, replayed from the requested resourceVersion),
/// get, create (409 when it exists), update (409 on a stale resourceVersion) and JSON patch, for the resources the
/// injector uses. It implements only what KubernetesClient sends for those calls, not the API's semantics at large.
/// </summary>
internal sealed class FakeApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<(string Namespace, string Name), JsonObject>> _store = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Resource, string Type, JsonObject Object)> _events = [];
    private readonly List<(string Resource, Channel<string> Channel)> _watchers = [];
    private long _resourceVersion = 100;

    private FakeApiServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;
    public string GitVersion { get; set; } = "v1.30.2";

    /// <summary>While set and not completed, list requests wait (to observe "not ready until synced").</summary>
    public TaskCompletionSource? HoldLists { get; set; }

    /// <summary>Every request as "METHOD path?query", for asserting what the injector called.</summary>
    public List<string> Requests { get; } = [];

    /// <summary>Resources whose CRD is "not installed": collection requests answer 404, as a real API server does.</summary>
    public HashSet<string> MissingResources { get; } = new(StringComparer.Ordinal);

    public static async Task<FakeApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    public void Upsert(string resource, JsonObject obj) => Write(resource, obj, "MODIFIED");

    public void Delete(string resource, string @namespace, string name)
    {
        lock (_lock)
        {
            if (Collection(resource).Remove((@namespace, name), out var removed))
            {
                Publish(resource, "DELETED", removed);
            }
        }
    }

    public JsonObject? Get(string resource, string @namespace, string name)
    {
        lock (_lock)
        {
            return Collection(resource).TryGetValue((@namespace, name), out var obj) ? (JsonObject)obj.DeepClone() : null;
        }
    }

    private JsonObject Write(string resource, JsonObject obj, string type)
    {
        lock (_lock)
        {
            var metadata = obj.EnsureObj("metadata");
            var key = (metadata.Str("namespace") ?? "", metadata.Str("name") ?? "");
            var isNew = !Collection(resource).ContainsKey(key);
            metadata["resourceVersion"] = (++_resourceVersion).ToString(CultureInfo.InvariantCulture);
            var stored = (JsonObject)obj.DeepClone();
            Collection(resource)[key] = stored;
            Publish(resource, isNew ? "ADDED" : type, stored);
            return (JsonObject)stored.DeepClone();
        }
    }

    private Dictionary<(string, string), JsonObject> Collection(string resource)
    {
        if (!_store.TryGetValue(resource, out var collection))
        {
            collection = [];
            _store[resource] = collection;
        }

        return collection;
    }

    private void Publish(string resource, string type, JsonObject obj)
    {
        var version = long.Parse(obj.Obj("metadata").Str("resourceVersion") ?? _resourceVersion.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        _events.Add((version, resource, type, (JsonObject)obj.DeepClone()));
        var line = new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString() + "\n";
        foreach (var (watched, channel) in _watchers)
        {
            if (watched == resource)
            {
                channel.Writer.TryWrite(line);
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        lock (_lock)
        {
            Requests.Add($"{request.Method} {request.Path}{request.QueryString}");
        }

        var segments = request.Path.Value!.Trim('/').Split('/');
        if (segments is ["version"])
        {
            await WriteJson(context, 200, new JsonObject { ["major"] = "1", ["minor"] = GitVersion.Split('.')[1], ["gitVersion"] = GitVersion });
            return;
        }

        // /api/v1/... or /apis/group/version/...
        var rest = segments[0] == "api" ? segments[2..] : segments[3..];
        string? @namespace = null;
        if (rest.Length >= 3 && rest[0] == "namespaces")
        {
            @namespace = rest[1];
            rest = rest[2..];
        }

        var resource = rest[0];
        var name = rest.Length > 1 ? rest[1] : null;
        if (resource == "namespaces" && name is not null)
        {
            @namespace = "";
        }

        switch (request.Method)
        {
            case "GET" when name is null && MissingResources.Contains(resource):
                await WriteStatus(context, 404, "NotFound");
                return;
            case "GET" when name is null && request.Query["watch"] is ["true" or "1"]:
                await WatchAsync(context, resource, request.Query["resourceVersion"].ToString());
                return;
            case "GET" when name is null:
                if (HoldLists is { } hold)
                {
                    await hold.Task.WaitAsync(context.RequestAborted);
                }

                await WriteJson(context, 200, List(resource, @namespace));
                return;
            case "GET":
                var found = Get(resource, @namespace ?? "", name!);
                await (found is null ? WriteStatus(context, 404, "NotFound") : WriteJson(context, 200, found));
                return;
            case "POST":
                var created = (JsonObject)(await JsonNode.ParseAsync(request.Body))!;
                created.EnsureObj("metadata")["namespace"] = @namespace ?? created.Obj("metadata").Str("namespace");
                if (@namespace is null)
                {
                    created.EnsureObj("metadata").Remove("namespace");
                }

                lock (_lock)
                {
                    if (Collection(resource).ContainsKey((@namespace ?? "", created.Obj("metadata").Str("name") ?? "")))
                    {
                        created = null;
                    }
                    else
                    {
                        created = Write(resource, created, "ADDED");
                    }
                }

                await (created is null ? WriteStatus(context, 409, "AlreadyExists") : WriteJson(context, 201, created));
                return;
            case "PUT":
                var replacement = (JsonObject)(await JsonNode.ParseAsync(request.Body))!;
                JsonObject? updated = null;
                var status = 200;
                lock (_lock)
                {
                    var current = Collection(resource).GetValueOrDefault((@namespace ?? "", name!));
                    if (current is null)
                    {
                        status = 404;
                    }
                    else if (replacement.Obj("metadata").Str("resourceVersion") is { } expected && expected != current.Obj("metadata").Str("resourceVersion"))
                    {
                        status = 409;
                    }
                    else
                    {
                        updated = Write(resource, replacement, "MODIFIED");
                    }
                }

                await (updated is null ? WriteStatus(context, status, status == 404 ? "NotFound" : "Conflict") : WriteJson(context, 200, updated));
                return;
            case "PATCH":
                var patch = (JsonArray)(await JsonNode.ParseAsync(request.Body))!;
                JsonObject? patched = null;
                var patchStatus = 404;
                lock (_lock)
                {
                    if (Collection(resource).GetValueOrDefault((@namespace ?? "", name!)) is { } current)
                    {
                        try
                        {
                            patched = Write(resource, (JsonObject)JsonPatchApplier.Apply(current, patch)!, "MODIFIED");
                        }
                        catch (InvalidOperationException)
                        {
                            patchStatus = 422; // a failed "test" or a bad path, as the API server answers
                        }
                    }
                }

                await (patched is null ? WriteStatus(context, patchStatus, patchStatus == 404 ? "NotFound" : "Invalid") : WriteJson(context, 200, patched));
                return;
            default:
                await WriteStatus(context, 405, "MethodNotAllowed");
                return;
        }
    }

    private JsonObject List(string resource, string? @namespace)
    {
        lock (_lock)
        {
            var items = new JsonArray();
            foreach (var ((ns, _), obj) in Collection(resource).OrderBy(e => e.Key))
            {
                if (@namespace is null || ns == @namespace)
                {
                    items.Add(obj.DeepClone());
                }
            }

            return new JsonObject
            {
                ["kind"] = "List",
                ["apiVersion"] = "v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                ["items"] = items,
            };
        }
    }

    private async Task WatchAsync(HttpContext context, string resource, string fromVersion)
    {
        var channel = Channel.CreateUnbounded<string>();
        lock (_lock)
        {
            var from = long.TryParse(fromVersion, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
            foreach (var (version, watched, type, obj) in _events)
            {
                if (watched == resource && version > from)
                {
                    channel.Writer.TryWrite(new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString() + "\n");
                }
            }

            _watchers.Add((resource, channel));
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.Body.FlushAsync();
        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line);
                await context.Response.Body.FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
            // the client went away
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove((resource, channel));
            }
        }
    }

    private static Task WriteJson(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    private static Task WriteStatus(HttpContext context, int code, string reason) => WriteJson(context, code, new JsonObject
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["status"] = "Failure",
        ["reason"] = reason,
        ["code"] = code,
        ["message"] = reason,
    });

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            foreach (var (_, channel) in _watchers)
            {
                channel.Writer.TryComplete();
            }
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
