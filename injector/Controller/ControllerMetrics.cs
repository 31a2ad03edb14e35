using System.Diagnostics.Metrics;
using Fluid.Serverless.Contracts.Metrics;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>The controller's figures, observed by the injector's meter (<see cref="MeterNames.Injector"/>) at collection time.</summary>
internal sealed class ControllerMetrics
{
    private long _patches;
    private long _recreateRequired;
    private long _conflicts;
    private int _leading;

    /// <param name="meters">The host's meter factory; none (tests of the reconciler alone) records into a meter of its own.</param>
    public ControllerMetrics(IMeterFactory? meters = null)
    {
        var meter = meters?.Create(MeterNames.Injector) ?? new Meter(MeterNames.Injector);
        meter.CreateObservableGauge("fluid_injector_controller_leading", () => Volatile.Read(ref _leading), description: "1 while this replica holds the controller Lease.");
        meter.CreateObservableCounter("fluid_injector_controller_pod_updates_total", ObserveUpdates, description: "Pods the controller handled after a Dataset edit, by result.");
    }

    public long Patches => Interlocked.Read(ref _patches);
    public long RecreateRequired => Interlocked.Read(ref _recreateRequired);
    public bool Leading => Volatile.Read(ref _leading) == 1;

    public void Patched() => Interlocked.Increment(ref _patches);
    public void NeedsRecreate() => Interlocked.Increment(ref _recreateRequired);
    public void Conflict() => Interlocked.Increment(ref _conflicts);
    public void SetLeading(bool leading) => Volatile.Write(ref _leading, leading ? 1 : 0);

    private IEnumerable<Measurement<long>> ObserveUpdates()
    {
        yield return new Measurement<long>(Patches, new KeyValuePair<string, object?>("result", "patched"));
        yield return new Measurement<long>(RecreateRequired, new KeyValuePair<string, object?>("result", "recreate_required"));
        yield return new Measurement<long>(Interlocked.Read(ref _conflicts), new KeyValuePair<string, object?>("result", "conflict"));
    }
}
