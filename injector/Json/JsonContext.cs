using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Fluid.Serverless.Injector.Json;

/// <summary>Source-generated serialization for the few types written whole (no reflection on the request path).</summary>
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class JsonContext : JsonSerializerContext;
