namespace Fluid.Serverless.Contracts.Metrics;

/// <summary>
/// The names of the processes' meters: what <c>dotnet-counters monitor --counters NAME</c> and an OpenTelemetry
/// <c>AddMeter(NAME)</c> subscribe to.
/// </summary>
public static class MeterNames
{
    public const string Sidecar = "Fluid.Serverless.Sidecar";
    public const string Injector = "Fluid.Serverless.Injector";
}
