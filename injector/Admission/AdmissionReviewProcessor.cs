using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;

namespace Fluid.Serverless.Injector.Admission;

/// <summary>The answer to one AdmissionReview: an HTTP status plus a JSON body (an AdmissionReview or an error).</summary>
internal sealed record AdmissionReply(int StatusCode, JsonObject Body, AdmissionOutcome Outcome, string? Reason = null);

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
                if (patch.Count > 0)
                {
                    var patchBytes = new ArrayBufferWriter<byte>(4096);
                    using (var writer = new Utf8JsonWriter(patchBytes))
                    {
                        JsonPatchDiff.WriteTo(writer, patch);
                    }

                    var inner = response.Obj("response")!;
                    inner["patchType"] = "JSONPatch";
                    inner["patch"] = Convert.ToBase64String(patchBytes.WrittenSpan);
                }

                return new(200, response, AdmissionOutcome.Injected, outcome.Reason);
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
