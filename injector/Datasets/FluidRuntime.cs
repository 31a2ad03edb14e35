using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>
/// The parts of a Fluid runtime the injector needs: whether it serves its datasets on an S3 API. Today that is an
/// <c>AlluxioRuntime</c> (<c>data.fluid.io/v1alpha1</c>) with <c>spec.apiGateway.enabled: true</c>: Fluid runs
/// Alluxio's proxy and reports it in <c>status.apiGateway.endpoint</c> as <c>&lt;runtime&gt;-master-0.&lt;namespace&gt;:&lt;port&gt;</c>
/// (the master Service's port named <c>rest</c>, 39999 unless Fluid allocated another).
/// </summary>
internal sealed record FluidRuntime
{
    public const string ApiGroup = "data.fluid.io";
    public const string ApiVersion = "v1alpha1";
    public const string AlluxioPlural = "alluxioruntimes";
    public const string AlluxioKind = "AlluxioRuntime";

    /// <summary>Alluxio's S3 REST API under its proxy's web port: buckets are the top-level directories of its namespace.</summary>
    public const string AlluxioS3Path = "/api/v1/s3";

    public required string Namespace { get; init; }
    public required string Name { get; init; }

    /// <summary>Fluid's runtime type as a Dataset's status.runtimes[].type spells it (alluxio).</summary>
    public required string Type { get; init; }

    public bool GatewayEnabled { get; init; }

    /// <summary>host:port of the S3 gateway once Fluid reports it; null before.</summary>
    public string? GatewayEndpoint { get; init; }

    /// <summary>The gateway's S3 endpoint URL, or null when the runtime has no ready gateway.</summary>
    public string? S3Endpoint => GatewayEnabled && GatewayEndpoint is { Length: > 0 } endpoint && !endpoint.Contains('/', StringComparison.Ordinal)
        ? "http://" + endpoint + AlluxioS3Path
        : null;

    public static FluidRuntime FromAlluxioJson(JsonNode node)
    {
        var metadata = node.Obj("metadata");
        return new FluidRuntime
        {
            Namespace = metadata.Str("namespace") ?? "default",
            Name = metadata.Str("name") ?? "",
            Type = "alluxio",
            GatewayEnabled = node.Obj("spec").Obj("apiGateway").Bool("enabled") ?? false,
            GatewayEndpoint = node.Obj("status").Obj("apiGateway").Str("endpoint"),
        };
    }
}

/// <summary>A Dataset's status.runtimes[] entry: the runtime Fluid bound it to.</summary>
internal sealed record RuntimeBinding(string Namespace, string Name, string Type);
