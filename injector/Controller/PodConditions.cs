using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// The controller's per-dataset condition inside the pod's status annotation (<c>conditions</c>: type
/// <c>DatasetApplied</c>, one entry per dataset): <c>status</c> "True" once an edit reached the pod, "False" with the
/// reason when it needs the pod to be recreated. Reading it back keeps the controller from repeating an Event.
/// </summary>
internal static class PodConditions
{
    public const string Type = "DatasetApplied";
    public const string ReasonApplied = "Applied";
    public const string ReasonRecreateRequired = "RecreateRequired";

    /// <summary>The pod's current condition for a dataset, or null.</summary>
    public static JsonObject? Find(JsonObject pod, string dataset) =>
        Status(pod)?.Arr("conditions").Objects().FirstOrDefault(c => c.Str("type") == Type && c.Str("dataset") == dataset);

    /// <summary>The status annotation with the dataset's condition set (others kept).</summary>
    public static string? WithCondition(JsonObject pod, string dataset, bool applied, string reason, string message, DateTimeOffset now)
    {
        if (Status(pod) is not { } status)
        {
            return null;
        }

        var conditions = new JsonArray();
        foreach (var condition in status.Arr("conditions").Objects())
        {
            if (!(condition.Str("type") == Type && condition.Str("dataset") == dataset))
            {
                conditions.Add(condition.DeepClone());
            }
        }

        conditions.Add(new JsonObject
        {
            ["type"] = Type,
            ["dataset"] = dataset,
            ["status"] = applied ? "True" : "False",
            ["reason"] = reason,
            ["message"] = message,
            ["lastTransitionTime"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        });
        status["conditions"] = conditions;
        return status.ToJsonString();
    }

    private static JsonObject? Status(JsonObject pod)
    {
        var text = pod.Obj("metadata").Obj("annotations").Str(Annotations.Status);
        try
        {
            return text is null ? null : JsonNode.Parse(text) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
