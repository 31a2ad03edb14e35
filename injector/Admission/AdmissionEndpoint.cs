using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Fluid.Serverless.Injector.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Admission;

/// <summary>
/// POST /mutate: checks the transport (method, content type, size), hands the body to the
/// <see cref="AdmissionReviewProcessor"/>, writes the reply, records metrics. Any unexpected exception becomes a
/// denial (never a half-mutated pod) and the process keeps serving.
/// </summary>
internal sealed partial class AdmissionEndpoint(AdmissionReviewProcessor processor, AdmissionMetrics metrics, TimeProvider time, ILogger<AdmissionEndpoint> logger)
{
    /// <summary>The API server caps objects at ~3 MiB; an AdmissionReview carries one object (twice for UPDATE).</summary>
    public const int MaxBodyBytes = 8 * 1024 * 1024;

    public async Task HandleAsync(HttpContext context)
    {
        var started = time.GetTimestamp();
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method))
        {
            await WriteErrorAsync(context, 405, "method not allowed: expected POST", started);
            return;
        }

        if (request.ContentType is not { } contentType || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            await WriteErrorAsync(context, 415, $"unsupported content type '{request.ContentType}': expected application/json", started);
            return;
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            await WriteErrorAsync(context, 413, $"body of {request.ContentLength} bytes exceeds the {MaxBodyBytes}-byte limit", started);
            return;
        }

        // pooled: a busy cluster admits many pods per second, each body a few KiB to a few hundred
        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is > 0 and <= MaxBodyBytes ? (int)request.ContentLength.Value : 16 * 1024);
        var length = 0;
        AdmissionReply reply;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= MaxBodyBytes)
                    {
                        await WriteErrorAsync(context, 413, $"body exceeds the {MaxBodyBytes}-byte limit", started);
                        return;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxBodyBytes));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            try
            {
                reply = processor.Process(buffer.AsSpan(0, length));
            }
#pragma warning disable CA1031 // the webhook must answer every request; the exception is logged and becomes a denial
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.AdmissionFailed(logger, exception);
                reply = new AdmissionReply(500, new() { ["error"] = "internal error while processing the AdmissionReview: " + exception.Message }, AdmissionOutcome.Error);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (reply.Outcome is AdmissionOutcome.Denied or AdmissionOutcome.BadRequest)
        {
            Log.Rejected(logger, reply.Outcome, reply.Reason ?? "");
        }

        using (reply)
        {
            context.Response.StatusCode = reply.StatusCode;
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, AdmissionReply.WriterOptions);
            reply.WriteTo(writer);
        }

        metrics.Record(reply.Outcome, time.GetElapsedTime(started));
    }

    private async Task WriteErrorAsync(HttpContext context, int status, string message, long started)
    {
        Log.Rejected(logger, AdmissionOutcome.BadRequest, message);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new System.Text.Json.Nodes.JsonObject { ["error"] = message }.ToJsonString());
        metrics.Record(AdmissionOutcome.BadRequest, time.GetElapsedTime(started));
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.AdmissionFailed, LogLevel.Error, "admission failed with an unexpected exception; the request is denied")]
        public static partial void AdmissionFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventIds.AdmissionRejected, LogLevel.Information, "admission {Outcome}: {Reason}")]
        public static partial void Rejected(ILogger logger, AdmissionOutcome outcome, string reason);
    }
}
