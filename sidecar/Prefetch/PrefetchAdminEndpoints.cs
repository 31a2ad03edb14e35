using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// The prefetch admin API on the admin port, as plain <see cref="RequestDelegate"/>s (no reflection, no request
/// delegate generator needed): POST /prefetch starts a warm-up, GET /prefetch lists jobs, GET /prefetch/{id} shows
/// one, DELETE /prefetch/{id} cancels it. Offered both as routes (<see cref="MapPrefetchAdmin"/>) and as a
/// routing-free middleware (<see cref="UsePrefetchAdmin"/>) for the admin port's branch.
/// </summary>
internal static class PrefetchAdminEndpoints
{
    /// <summary>A warm-up request body is a dataset name and a few paths; anything bigger is a mistake.</summary>
    private const int MaxRequestBytes = 1024 * 1024;

    private const string BasePath = "/prefetch";

    /// <summary>Maps the routes on an endpoint route builder (an app or a branch that uses routing).</summary>
    public static IEndpointRouteBuilder MapPrefetchAdmin(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost(BasePath, (RequestDelegate)StartAsync);
        endpoints.MapGet(BasePath, (RequestDelegate)ListAsync);
        endpoints.MapGet(BasePath + "/{id}", (RequestDelegate)(context => GetAsync(context, RouteId(context))));
        endpoints.MapDelete(BasePath + "/{id}", (RequestDelegate)(context => CancelAsync(context, RouteId(context))));
        return endpoints;
    }

    /// <summary>
    /// The same API as a middleware for a branch without routing (the admin port's MapWhen branch): requests under
    /// /prefetch are answered here (405 with Allow for other methods), everything else goes to the next component.
    /// </summary>
    public static IApplicationBuilder UsePrefetchAdmin(this IApplicationBuilder admin)
    {
        ArgumentNullException.ThrowIfNull(admin);
        return admin.Use(static (context, next) =>
        {
            var path = context.Request.Path.Value ?? "";
            var method = context.Request.Method;
            if (path == BasePath)
            {
                return HttpMethods.IsPost(method) ? StartAsync(context)
                    : HttpMethods.IsGet(method) ? ListAsync(context)
                    : MethodNotAllowedAsync(context, "GET, POST");
            }

            if (path.StartsWith(BasePath + "/", StringComparison.Ordinal) && path.Length > BasePath.Length + 1 && path.IndexOf('/', BasePath.Length + 1) < 0)
            {
                var id = path[(BasePath.Length + 1)..];
                return HttpMethods.IsGet(method) ? GetAsync(context, id)
                    : HttpMethods.IsDelete(method) ? CancelAsync(context, id)
                    : MethodNotAllowedAsync(context, "GET, DELETE");
            }

            return next(context);
        });
    }

    private static async Task StartAsync(HttpContext context)
    {
        var manager = context.RequestServices.GetRequiredService<PrefetchManager>();
        var registry = context.RequestServices.GetRequiredService<IDatasetRegistry>();

        if (context.Request.ContentLength > MaxRequestBytes)
        {
            await WriteAsync(context, StatusCodes.Status413PayloadTooLarge, new PrefetchError($"request body larger than {MaxRequestBytes} bytes"), PrefetchJsonContext.Default.PrefetchError);
            return;
        }

        PrefetchRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, PrefetchJsonContext.Default.PrefetchRequest, context.RequestAborted);
        }
        catch (JsonException e)
        {
            await BadRequestAsync(context, $"request body is not valid JSON of the form {{\"dataset\": \"name\", \"paths\": [\"dir/\", \"train/**/*.jpg\", \"@manifest.txt\"]}}: {e.Message}");
            return;
        }

        if (request?.Dataset is not { Length: > 0 } datasetName)
        {
            await BadRequestAsync(context, "field 'dataset' is required: the name (bucket) of the dataset to warm");
            return;
        }

        if (request.Paths is not { Count: > 0 } paths)
        {
            await BadRequestAsync(context, "field 'paths' is required: a non-empty array of paths, globs or '@manifest-key' entries");
            return;
        }

        if (!PrefetchEntry.TryParseAll(paths, out var entries, out var error))
        {
            await BadRequestAsync(context, error);
            return;
        }

        if (!registry.Current.TryGet(datasetName, out var dataset))
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new PrefetchError($"dataset '{datasetName}' is not served by this sidecar"), PrefetchJsonContext.Default.PrefetchError);
            return;
        }

        if (!manager.TryStartAdminJob(dataset, entries, out var job, out var refused))
        {
            context.Response.Headers.RetryAfter = "5";
            await WriteAsync(context, StatusCodes.Status429TooManyRequests, new PrefetchLimitError(refused!.Message, refused.Limit, refused.Value, refused.Current), PrefetchJsonContext.Default.PrefetchLimitError);
            return;
        }

        var location = $"/prefetch/{job.Id}";
        context.Response.Headers.Location = location;
        await WriteAsync(context, StatusCodes.Status202Accepted, new PrefetchStarted(job.Id, location), PrefetchJsonContext.Default.PrefetchStarted);
    }

    private static Task ListAsync(HttpContext context)
    {
        var snapshot = context.RequestServices.GetRequiredService<PrefetchManager>().Snapshot();
        var list = new PrefetchJobList(snapshot.Jobs, snapshot.WaitForReady, snapshot.Ready, snapshot.ReadinessReason);
        return WriteAsync(context, StatusCodes.Status200OK, list, PrefetchJsonContext.Default.PrefetchJobList);
    }

    private static Task GetAsync(HttpContext context, string id)
    {
        var manager = context.RequestServices.GetRequiredService<PrefetchManager>();
        return manager.TryGet(id, out var job)
            ? WriteAsync(context, StatusCodes.Status200OK, job.GetProgress(), PrefetchJsonContext.Default.PrefetchProgress)
            : NotFoundAsync(context, id);
    }

    private static async Task CancelAsync(HttpContext context, string id)
    {
        var manager = context.RequestServices.GetRequiredService<PrefetchManager>();
        if (!manager.TryGet(id, out var job))
        {
            await NotFoundAsync(context, id);
            return;
        }

        job.Cancel();
        await job.Completion.WaitAsync(TimeSpan.FromSeconds(5), context.RequestAborted).ContinueWith(static _ => { }, TaskScheduler.Default);
        await WriteAsync(context, StatusCodes.Status200OK, job.GetProgress(), PrefetchJsonContext.Default.PrefetchProgress);
    }

    private static string RouteId(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    private static Task NotFoundAsync(HttpContext context, string id) =>
        WriteAsync(context, StatusCodes.Status404NotFound, new PrefetchError($"no prefetch job '{id}'"), PrefetchJsonContext.Default.PrefetchError);

    private static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        context.Response.Headers.Allow = allow;
        return WriteAsync(context, StatusCodes.Status405MethodNotAllowed, new PrefetchError($"method {context.Request.Method} is not allowed here; expected {allow}"), PrefetchJsonContext.Default.PrefetchError);
    }

    private static Task BadRequestAsync(HttpContext context, string error) =>
        WriteAsync(context, StatusCodes.Status400BadRequest, new PrefetchError(error), PrefetchJsonContext.Default.PrefetchError);

    private static Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, context.RequestAborted);
    }
}
