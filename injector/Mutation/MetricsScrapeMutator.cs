using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Makes the sidecar's read-only /metrics (the probe port) findable by the usual scrapers: a named container port
/// (<see cref="PortName"/>, what a PodMonitor selects) and, unless the pod already carries any
/// <c>prometheus.io/*</c> annotation, the conventional <c>prometheus.io/scrape</c>, <c>/port</c> and <c>/path</c>
/// annotations. A pod that has its own keeps them untouched: the convention allows one port per pod, and the app's own
/// metrics come first (the PodMonitor of manifests/overlays/monitoring scrapes the sidecar regardless).
/// </summary>
internal sealed class MetricsScrapeMutator : IPodMutator
{
    public const string PortName = "fluid-metrics";
    public const string AnnotationPrefix = "prometheus.io/";

    public void Mutate(MutationContext context)
    {
        var port = context.Plan.Options.AdminPort;
        var ports = context.Sidecar.EnsureArr("ports");
        if (!ports.Objects().Any(p => p.Str("name") == PortName))
        {
            ports.Add(new JsonObject { ["name"] = PortName, ["containerPort"] = port, ["protocol"] = "TCP" });
        }

        var metadata = context.Pod.EnsureObj("metadata");
        var annotations = metadata.EnsureObj("annotations");
        if (annotations.Select(a => a.Key).Any(key => key.StartsWith(AnnotationPrefix, StringComparison.Ordinal)))
        {
            return;
        }

        annotations["prometheus.io/scrape"] = "true";
        annotations["prometheus.io/port"] = port.ToString(CultureInfo.InvariantCulture);
        annotations["prometheus.io/path"] = "/metrics";
    }
}
