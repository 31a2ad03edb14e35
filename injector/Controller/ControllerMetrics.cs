using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>Prometheus counters of the controller, appended to /metrics.</summary>
internal sealed class ControllerMetrics
{
    private long _patches;
    private long _recreateRequired;
    private long _conflicts;
    private int _leading;

    public long Patches => Interlocked.Read(ref _patches);
    public long RecreateRequired => Interlocked.Read(ref _recreateRequired);
    public bool Leading => Volatile.Read(ref _leading) == 1;

    public void Patched() => Interlocked.Increment(ref _patches);
    public void NeedsRecreate() => Interlocked.Increment(ref _recreateRequired);
    public void Conflict() => Interlocked.Increment(ref _conflicts);
    public void SetLeading(bool leading) => Volatile.Write(ref _leading, leading ? 1 : 0);

    public string ToPrometheusText()
    {
        var text = new StringBuilder();
        text.AppendLine("# HELP fluid_injector_controller_leading 1 while this replica holds the controller Lease.");
        text.AppendLine("# TYPE fluid_injector_controller_leading gauge");
        text.AppendLine(CultureInfo.InvariantCulture, $"fluid_injector_controller_leading {Volatile.Read(ref _leading)}");
        text.AppendLine("# HELP fluid_injector_controller_pod_updates_total Pods the controller handled after a Dataset edit, by result.");
        text.AppendLine("# TYPE fluid_injector_controller_pod_updates_total counter");
        text.AppendLine(CultureInfo.InvariantCulture, $"fluid_injector_controller_pod_updates_total{{result=\"patched\"}} {Patches}");
        text.AppendLine(CultureInfo.InvariantCulture, $"fluid_injector_controller_pod_updates_total{{result=\"recreate_required\"}} {RecreateRequired}");
        text.AppendLine(CultureInfo.InvariantCulture, $"fluid_injector_controller_pod_updates_total{{result=\"conflict\"}} {Interlocked.Read(ref _conflicts)}");
        return text.ToString();
    }
}
