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
/// serving /version, list and watch (newline-delimited JSON events, replayed from the requested resourceVersion, then
/// one BOOKMARK when the client allows bookmarks), equality label selectors (<c>labelSelector=k=v,…</c>) on list and
/// watch, get, create (409 when it exists), update (409 on a stale resourceVersion), JSON patch, JSON merge patch and
/// strategic merge patch (409 when the patch carries a stale metadata.resourceVersion), the <c>status</c> subresource
/// (GET/PUT/PATCH change only <c>.status</c>), and any kind by path: coordination.k8s.io/v1 Leases for leader election
/// and core/v1 Events are plain objects here.
/// It implements only what KubernetesClient sends for those calls, not the API's semantics at large. Left out, among
/// others: authentication and RBAC, field selectors and set-based label selectors, 410 Gone for a compacted
/// resourceVersion, periodic bookmarks, watch timeouts, strategic merge's list semantics (patchMergeKey, $patch
/// directives: a list in a strategic merge patch replaces the list, as in a JSON merge patch), server-side apply,
/// defaulting and validation, generation/uid bookkeeping, and Event aggregation.
/// </summary>
internal sealed class FakeApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<(string Namespace, string Name), JsonObject>> _store = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Resource, string Type, JsonObject Object)> _events = [];
    private readonly List<(string Resource, string Selector, Channel<string> Channel)> _watchers = [];
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

    /// <summary>Writes a kubeconfig whose current context is this server (plain HTTP) and returns its path: what the
    /// command-line tools read with --kubeconfig. KubernetesClient insists on credentials; the token is never checked.</summary>
    public string WriteKubeconfig(string directory)
    {
        var path = Path.Combine(directory, "kubeconfig");
        File.WriteAllText(path, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster: {server: {{Url.ToString().TrimEnd('/')}}}
            users:
            - name: fake
              user: {token: fake-token-not-checked}
            contexts:
            - name: fake
              context: {cluster: fake, user: fake}
            current-context: fake
            """);
        return path;
    }

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

    /// <summary>Every stored object of a resource (e.g. "events"), in key order.</summary>
    public IReadOnlyList<JsonObject> All(string resource)
    {
        lock (_lock)
        {
            return [.. Collection(resource).OrderBy(e => e.Key).Select(e => (JsonObject)e.Value.DeepClone())];
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
        foreach (var (watched, selector, channel) in _watchers)
        {
            if (watched == resource && Matches(obj, selector))
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
        var subresource = rest.Length > 2 ? rest[2] : null;
        var selector = request.Query["labelSelector"].ToString();
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
                await WatchAsync(context, resource, request.Query["resourceVersion"].ToString(), selector, request.Query["allowWatchBookmarks"] is ["true" or "1"]);
                return;
            case "GET" when name is null:
                if (HoldLists is { } hold)
                {
                    await hold.Task.WaitAsync(context.RequestAborted);
                }

                await WriteJson(context, 200, List(resource, @namespace, selector));
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
                if (subresource == "status")
                {
                    replacement = WithStatusOf(Get(resource, @namespace ?? "", name!), replacement);
                }

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
            case "PATCH" when request.ContentType?.StartsWith("application/merge-patch+json", StringComparison.Ordinal) == true
                || request.ContentType?.StartsWith("application/strategic-merge-patch+json", StringComparison.Ordinal) == true:
                var mergePatch = (JsonObject)(await JsonNode.ParseAsync(request.Body))!;
                JsonObject? merged = null;
                var mergeStatus = 404;
                lock (_lock)
                {
                    if (Collection(resource).GetValueOrDefault((@namespace ?? "", name!)) is { } current)
                    {
                        if (mergePatch.Obj("metadata").Str("resourceVersion") is { } expected && expected != current.Obj("metadata").Str("resourceVersion"))
                        {
                            mergeStatus = 409;
                        }
                        else
                        {
                            var result = (JsonObject)MergePatch(current.DeepClone(), mergePatch)!;
                            merged = Write(resource, subresource == "status" ? WithStatusOf(current, result) : result, "MODIFIED");
                        }
                    }
                }

                if (merged is not null)
                {
                    lock (_lock)
                    {
                        Patches.Add((resource, @namespace ?? "", name!, mergePatch.ToJsonString()));
                    }
                }

                await (merged is null ? WriteStatus(context, mergeStatus, mergeStatus == 404 ? "NotFound" : "Conflict") : WriteJson(context, 200, merged));
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

    /// <summary>Merge patches accepted, in order: (resource, namespace, name, patch JSON).</summary>
    public List<(string Resource, string Namespace, string Name, string Patch)> Patches { get; } = [];

    /// <summary>RFC 7386: objects merge key by key, null removes, anything else (lists too) replaces.</summary>
    private static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? [];
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var existing = result[key];
                result.Remove(key);
                result[key] = MergePatch(existing?.DeepClone(), value);
            }
        }

        return result;
    }

    /// <summary>The status subresource: the stored object with only .status taken from the request.</summary>
    private static JsonObject WithStatusOf(JsonObject? current, JsonObject request)
    {
        var result = (JsonObject)(current ?? request).DeepClone();
        result["status"] = request["status"]?.DeepClone();
        result.EnsureObj("metadata")["resourceVersion"] = request.Obj("metadata").Str("resourceVersion") ?? result.Obj("metadata").Str("resourceVersion");
        return result;
    }

    private static bool Matches(JsonObject obj, string selector)
    {
        if (selector.Length == 0)
        {
            return true;
        }

        var labels = obj.Obj("metadata").StringMap("labels");
        foreach (var term in selector.Split(','))
        {
            var (key, value) = term.Split('=', 2) is [var k, var v] ? (k, v) : (term, (string?)null);
            if (!labels.TryGetValue(key, out var actual) || (value is not null && actual != value))
            {
                return false;
            }
        }

        return true;
    }

    private JsonObject List(string resource, string? @namespace, string selector)
    {
        lock (_lock)
        {
            var items = new JsonArray();
            foreach (var ((ns, _), obj) in Collection(resource).OrderBy(e => e.Key))
            {
                if ((@namespace is null || ns == @namespace) && Matches(obj, selector))
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

    private async Task WatchAsync(HttpContext context, string resource, string fromVersion, string selector, bool bookmarks)
    {
        var channel = Channel.CreateUnbounded<string>();
        lock (_lock)
        {
            var from = long.TryParse(fromVersion, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
            foreach (var (version, watched, type, obj) in _events)
            {
                if (watched == resource && version > from && Matches(obj, selector))
                {
                    channel.Writer.TryWrite(new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString() + "\n");
                }
            }

            if (bookmarks)
            {
                // a bookmark carries only the resourceVersion a client may resume from
                var bookmark = new JsonObject { ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) } };
                channel.Writer.TryWrite(new JsonObject { ["type"] = "BOOKMARK", ["object"] = bookmark }.ToJsonString() + "\n");
            }

            _watchers.Add((resource, selector, channel));
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
                _watchers.Remove((resource, selector, channel));
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
            foreach (var (_, _, channel) in _watchers)
            {
                channel.Writer.TryComplete();
            }
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
