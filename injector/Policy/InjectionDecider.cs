using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>
/// Decides whether a pod is injected. Never-rules first (system and injector namespaces, hostNetwork, already
/// injected), then precedence: pod label &gt; pod annotation &gt; InjectionPolicy &gt; namespace label &gt; global config.
/// </summary>
internal static class InjectionDecider
{
    public static InjectionDecision Decide(JsonObject pod, string @namespace, ClusterState cluster, InjectorOptions options)
    {
        var labels = pod.Obj("metadata").StringMap("labels");
        var annotations = pod.Obj("metadata").StringMap("annotations");
        var policy = cluster.Policies(@namespace).FirstOrDefault(p => p.Selector.Matches(labels));

        if (InjectorOptions.SystemNamespaces.Contains(@namespace))
        {
            return new(false, DecisionSource.NeverRule, $"namespace '{@namespace}' is a system namespace", policy);
        }

        if (@namespace == options.InjectorNamespace)
        {
            return new(false, DecisionSource.NeverRule, $"namespace '{@namespace}' is the injector's own namespace", policy);
        }

        if (pod.Obj("spec").Bool("hostNetwork") == true)
        {
            return new(false, DecisionSource.NeverRule, "the pod uses hostNetwork: the sidecar's 127.0.0.1 ports would be the node's", policy);
        }

        if (annotations.ContainsKey(Annotations.Status) || labels.GetValueOrDefault(Annotations.InjectedLabel) == "true")
        {
            return new(false, DecisionSource.NeverRule, "the pod is already injected", policy);
        }

        if (labels.TryGetValue(Annotations.Inject, out var labelValue))
        {
            return FromSwitch(labelValue, "label", DecisionSource.PodLabel, policy);
        }

        if (labels.GetValueOrDefault(Annotations.FluidEnableInjection) == "false")
        {
            return new(false, DecisionSource.PodLabel, $"pod label {Annotations.FluidEnableInjection}=\"false\" opts out", policy);
        }

        if (annotations.TryGetValue(Annotations.Inject, out var annotationValue))
        {
            return FromSwitch(annotationValue, "annotation", DecisionSource.PodAnnotation, policy);
        }

        if (policy is not null)
        {
            return new(policy.Inject, DecisionSource.InjectionPolicy,
                $"InjectionPolicy '{policy.Namespace}/{policy.Name}' selects the pod and {(policy.Inject ? "injects" : "excludes")} it", policy);
        }

        switch (cluster.NamespaceLabels(@namespace).GetValueOrDefault(Annotations.NamespaceInjection))
        {
            case "enabled":
                return new(true, DecisionSource.NamespaceLabel, $"namespace label {Annotations.NamespaceInjection}=enabled on '{@namespace}'", null);
            case "disabled":
                return new(false, DecisionSource.NamespaceLabel, $"namespace label {Annotations.NamespaceInjection}=disabled on '{@namespace}'", null);
        }

        return new(options.InjectByDefault, DecisionSource.GlobalConfig,
            options.InjectByDefault ? "the injector injects by default" : "nothing opts the pod in (no pod label/annotation, policy or namespace label)", null);
    }

    private static InjectionDecision FromSwitch(string value, string kind, DecisionSource source, InjectionPolicy? policy) => value switch
    {
        "true" => new(true, source, $"pod {kind} {Annotations.Inject}=\"true\"", policy),
        "false" => new(false, source, $"pod {kind} {Annotations.Inject}=\"false\" opts out", policy),
        _ => new(false, source, $"pod {kind} {Annotations.Inject} is invalid", policy,
            kind == "annotation"
                ? InjectionSettingsResolver.Invalid(value, Annotations.Inject, "'true' or 'false'")
                : $"invalid value '{value}' for label '{Annotations.Inject}': expected 'true' or 'false'"),
    };
}
