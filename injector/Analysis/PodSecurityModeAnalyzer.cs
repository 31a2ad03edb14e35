using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Mutation;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Namespaces whose Pod Security level (baseline or restricted) forbids the privileged sidecar that FUSE mode needs,
/// while an InjectionPolicy there, or the injector's default for a namespace that opts in, asks for mode fuse:
/// admission denies every such pod (and the API server would refuse it anyway).
/// </summary>
internal sealed class PodSecurityModeAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        foreach (var (_, @namespace) in snapshot.State.Keys("Namespace").Order())
        {
            var labels = snapshot.State.NamespaceLabels(@namespace);
            if (PodSecurityAdmission.Enforced(labels) is not { } enforced)
            {
                continue;
            }

            foreach (var policy in snapshot.State.Policies(@namespace).Where(p => p.Inject && p.Defaults.GetValueOrDefault(Annotations.Mode) == DatasetModes.Fuse))
            {
                yield return new Finding(FindingCodes.PodSecurityForbidsMode, Severity.Error, new ObjectRef("InjectionPolicy", @namespace, policy.Name),
                    $"spec.mode is 'fuse', which needs a privileged sidecar, but the {enforced.Describe(@namespace)} forbids privileged containers: "
                    + "every pod the policy selects is denied unless it sets another mode",
                    "set spec.mode to 'auto' (copy mode where Pod Security forbids FUSE) or 'copy', or run the namespace at Pod Security level privileged");
            }

            if (labels.GetValueOrDefault(Annotations.NamespaceInjection) == "enabled" && snapshot.Options.DefaultMode == DatasetModes.Fuse
                && !snapshot.State.Policies(@namespace).Any(p => p.Selector.MatchLabels.Count == 0 && p.Selector.Expressions.Count == 0 && p.Defaults.ContainsKey(Annotations.Mode)))
            {
                yield return new Finding(FindingCodes.PodSecurityForbidsMode, Severity.Error, new ObjectRef("Namespace", "", @namespace),
                    $"the namespace opts in ({Annotations.NamespaceInjection}=enabled) and the injector's default mode (Injector:DefaultMode) is 'fuse', "
                    + $"but its {enforced.Describe(@namespace)} forbids privileged containers: pods that set no mode are denied",
                    $"add an InjectionPolicy in '{@namespace}' with spec.mode 'copy' or 'auto', or set Injector:DefaultMode to 'auto'");
            }
        }
    }
}
