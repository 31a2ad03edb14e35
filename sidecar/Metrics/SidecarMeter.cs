using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts.Metrics;

namespace Fluid.Serverless.Sidecar.Metrics;

/// <summary>
/// The sidecar's <see cref="System.Diagnostics.Metrics.Meter"/>, which every component records into (request-path
/// counters, and observable instruments that read figures owned elsewhere at collection time). Made through the
/// host's <see cref="IMeterFactory"/>, so two hosts in one process (tests) keep apart; <c>dotnet-counters monitor
/// --counters Fluid.Serverless.Sidecar</c> and OpenTelemetry read it by name, /metrics through <see cref="CreateExporter"/>.
/// </summary>
internal sealed class SidecarMeter
{
    public const string Name = MeterNames.Sidecar;

    public SidecarMeter(IMeterFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Factory = factory;
        Meter = factory.Create(Name);
    }

    /// <summary>For tests and tools that build components without a host.</summary>
    public SidecarMeter(Meter meter)
    {
        Meter = meter;
    }

    public Meter Meter { get; }

    private IMeterFactory? Factory { get; }

    /// <summary>The Prometheus text of this meter (the /metrics body).</summary>
    public PrometheusMeterExporter CreateExporter() =>
        Factory is null ? new PrometheusMeterExporter(m => ReferenceEquals(m, Meter)) : PrometheusMeterExporter.ForScope(Factory, Name);
}
