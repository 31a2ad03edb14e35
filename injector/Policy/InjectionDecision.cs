using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>Which rule decided, in precedence order (the first that has an opinion wins).</summary>
internal enum DecisionSource
{
    NeverRule,
    PodLabel,
    PodAnnotation,
    InjectionPolicy,
    NamespaceLabel,
    GlobalConfig,
}

/// <param name="Inject">Whether to inject.</param>
/// <param name="Source">The rule that decided.</param>
/// <param name="Reason">A sentence for `explain` and logs.</param>
/// <param name="Policy">The InjectionPolicy selecting the pod (supplies defaults even when another rule decided).</param>
/// <param name="Error">Set when the opt-in value itself is invalid: the pod is denied.</param>
internal sealed record InjectionDecision(bool Inject, DecisionSource Source, string Reason, InjectionPolicy? Policy, string? Error = null);
