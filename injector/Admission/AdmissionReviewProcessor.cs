using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;

namespace Fluid.Serverless.Injector.Admission;

/// <summary>
/// The answer to one AdmissionReview: an HTTP status plus a JSON body (an AdmissionReview or an error) and, for an
/// injected pod, its JSON Patch. Dispose returns the patch's pooled buffer.
/// </summary>
internal sealed record AdmissionReply(int StatusCode, JsonObject Body, AdmissionOutcome Outcome, string? Reason = null) : IDisposable
{
    /// <summary>
    /// How replies are written. The API server's JSON parser reads them, never a browser, so only JSON's own escapes
    /// are needed: a quote in the sidecar-config annotation is <c>\"</c>, not the HTML-safe <c>\u0022</c> (a fifth
    /// of a small pod's patch).
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The UTF-8 JSON Patch of an injected pod, written by <see cref="WriteTo"/> as <c>response.patch</c> (base64,
    /// straight from these bytes) with <c>patchType: JSONPatch</c>.
    /// </summary>
    public PooledBufferWriter? Patch { get; init; }

    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (Patch is null)
        {
            Body.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        foreach (var (name, value) in Body)
        {
            writer.WritePropertyName(name);
            if (name == "response" && value is JsonObject response)
            {
                writer.WriteStartObject();
                foreach (var (innerName, innerValue) in response)
                {
                    writer.WritePropertyName(innerName);
                    WriteValue(writer, innerValue);
                }

                writer.WriteString("patchType", "JSONPatch");
                writer.WriteBase64String("patch", Patch.WrittenSpan);
                writer.WriteEndObject();
            }
            else
            {
                WriteValue(writer, value);
            }
        }

        writer.WriteEndObject();
    }

    public void Dispose() => Patch?.Dispose();

    private static void WriteValue(Utf8JsonWriter writer, JsonNode? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            value.WriteTo(writer);
        }
    }
}

/// <summary>
/// Turns an AdmissionReview (admission.k8s.io/v1) into its response: non-Pod requests are allowed unchanged, Pods go
/// through the <see cref="PodInjector"/> and come back as a JSON Patch diffed from the mutated pod. No API call and no
/// write happens here, so dryRun requests are answered exactly like the others.
/// </summary>
internal sealed class AdmissionReviewProcessor(PodInjector injector)
{
    public const string ApiVersion = "admission.k8s.io/v1";

    public AdmissionReply Process(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return BadRequest("empty body: expected an AdmissionReview (admission.k8s.io/v1) JSON document");
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException exception)
        {
            return BadRequest($"malformed JSON in AdmissionReview: {exception.Message}");
        }

        if (root is not JsonObject review)
        {
            return BadRequest("malformed AdmissionReview: expected a JSON object");
        }

        var apiVersion = review.Str("apiVersion");
        if (apiVersion != ApiVersion || review.Str("kind") != "AdmissionReview")
        {
            return BadRequest($"unsupported AdmissionReview version '{apiVersion}' (kind '{review.Str("kind")}'): expected apiVersion {ApiVersion}, kind AdmissionReview");
        }

        if (review.Obj("request") is not { } request || request.Str("uid") is not { Length: > 0 } uid)
        {
            return BadRequest("malformed AdmissionReview: expected request.uid");
        }

        var kind = request.Obj("kind");
        var isPod = kind.Str("kind") == "Pod" && (kind.Str("group") ?? "") == "" && request.Str("subResource") is null;
        if (!isPod || (request.Str("operation") ?? "CREATE") != "CREATE")
        {
            return new(200, Response(uid, allowed: true), AdmissionOutcome.NotPod);
        }

        if (request.Obj("object") is not { } pod)
        {
            return BadRequest("malformed AdmissionReview: a Pod CREATE request needs request.object");
        }

        var @namespace = request.Str("namespace") is { Length: > 0 } ns ? ns : pod.Obj("metadata").Str("namespace") ?? "default";
        var outcome = injector.Inject(pod, @namespace);
        switch (outcome.Kind)
        {
            case InjectionOutcomeKind.Injected:
                var patch = JsonPatchDiff.Diff(pod, outcome.Pod);
                var response = Response(uid, allowed: true, outcome.Warnings);
                if (patch.Count == 0)
                {
                    return new(200, response, AdmissionOutcome.Injected, outcome.Reason);
                }

                // a small pod's patch is ~4 KiB; the pool keeps it from being allocated (and grown) per admission
                var patchJson = new PooledBufferWriter(8 * 1024);
                try
                {
                    using (var writer = new Utf8JsonWriter(patchJson, AdmissionReply.WriterOptions))
                    {
                        JsonPatchDiff.WriteTo(writer, patch);
                    }
                }
                catch
                {
                    patchJson.Dispose();
                    throw;
                }

                return new(200, response, AdmissionOutcome.Injected, outcome.Reason) { Patch = patchJson };
            case InjectionOutcomeKind.Denied:
                var denied = Response(uid, allowed: false);
                denied.Obj("response")!["status"] = new JsonObject { ["code"] = 403, ["reason"] = "Forbidden", ["message"] = outcome.Reason };
                return new(200, denied, AdmissionOutcome.Denied, outcome.Reason);
            default:
                return new(200, Response(uid, allowed: true, outcome.Warnings), AdmissionOutcome.Skipped, outcome.Reason);
        }
    }

    public static JsonObject Response(string uid, bool allowed, IReadOnlyList<string>? warnings = null)
    {
        var response = new JsonObject { ["uid"] = uid, ["allowed"] = allowed };
        if (warnings is { Count: > 0 })
        {
            response["warnings"] = warnings.ToJsonArray();
        }

        return new JsonObject { ["apiVersion"] = ApiVersion, ["kind"] = "AdmissionReview", ["response"] = response };
    }

    private static AdmissionReply BadRequest(string message) =>
        new(400, new JsonObject { ["error"] = message }, AdmissionOutcome.BadRequest, message);
}
