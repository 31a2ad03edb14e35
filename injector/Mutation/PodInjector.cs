using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

internal enum InjectionOutcomeKind
{
    Injected,
    Skipped,
    Denied,
}

/// <param name="Kind">Injected, skipped (allowed unchanged) or denied.</param>
/// <param name="Reason">Why; for a denial, the message the user sees.</param>
/// <param name="Pod">The mutated pod (Injected only).</param>
internal sealed record InjectionOutcome(
    InjectionOutcomeKind Kind,
    string Reason,
    JsonObject? Pod,
    InjectionDecision? Decision,
    InjectionPlan? Plan,
    IReadOnlyList<string> Warnings);

/// <summary>
/// The whole injection of one pod: decide, resolve settings and plan (all validation happens here), then run the
/// mutators on a copy. The original is never touched, so a denial can never leave a half-mutated pod.
/// </summary>
internal sealed class PodInjector(ClusterState cluster, InjectorOptions options)
{
    private static readonly IPodMutator[] Mutators =
    [
        new SidecarContainerMutator(),
        new DatasetVolumeMutator(),
        new CacheVolumeMutator(),
        new SourceVolumeMutator(),
        new SecretEnvMutator(),
        new AppEnvironmentMutator(),
        new CredentialsVolumeMutator(),
        new WebIdentityMutator(),
        new MetricsScrapeMutator(),
        new FuseMutator(),
        new SidecarConfigMutator(),
        new MarkerMutator(),
    ];

    public InjectorOptions Options => options;

    /// <param name="pod">The pod; never modified.</param>
    /// <param name="namespace">The request's namespace (a controller-created pod may carry none itself).</param>
    /// <param name="platformHint">The platform when the pod does not say (offline: a Knative Service template).</param>
    public InjectionOutcome Inject(JsonObject pod, string @namespace, string? platformHint = null)
    {
        var decision = InjectionDecider.Decide(pod, @namespace, cluster, options);
        if (decision.Error is { } invalid)
        {
            return new(InjectionOutcomeKind.Denied, invalid, null, decision, null, []);
        }

        if (!decision.Inject)
        {
            return new(InjectionOutcomeKind.Skipped, decision.Reason, null, decision, null, []);
        }

        var annotations = pod.Obj("metadata").StringMap("annotations");
        var settings = InjectionSettingsResolver.Resolve(annotations, decision.Policy, options, out var settingsError);
        if (settingsError is not null)
        {
            return new(InjectionOutcomeKind.Denied, settingsError, null, decision, null, []);
        }

        if (platformHint is not null && settings.Platform == Platforms.Auto)
        {
            settings = settings with { Platform = platformHint };
        }

        var plan = InjectionPlanner.Plan(pod, @namespace, settings, cluster, options, out var planError);
        if (planError is not null)
        {
            return new(InjectionOutcomeKind.Denied, planError, null, decision, null, []);
        }

        if (plan is null)
        {
            var reason = "the pod uses no dataset (no Dataset PVC volume, no serverless.fluid.io/datasets)";
            // only an explicit pod opt-in deserves a warning; a namespace-wide policy quietly skips data-less pods
            IReadOnlyList<string> warnings = decision.Source is DecisionSource.PodLabel or DecisionSource.PodAnnotation
                ? [$"serverless.fluid.io/inject is true but {reason}: nothing injected"]
                : [];
            return new(InjectionOutcomeKind.Skipped, reason, null, decision, null, warnings);
        }

        // the sidecar checks its config with the same validator and refuses to start on an error: deny now instead
        var config = SidecarConfigMutator.Build(plan);
        var configErrors = SidecarConfigValidator.Validate(config);
        if (configErrors.Count > 0)
        {
            return new(InjectionOutcomeKind.Denied,
                $"the sidecar could not serve this pod's datasets (namespace '{@namespace}'): {string.Join("; ", configErrors)}", null, decision, plan, []);
        }

        plan = plan with { SidecarConfig = config };
        var mutated = (JsonObject)pod.DeepClone();
        var context = new MutationContext(mutated, plan);
        foreach (var mutator in Mutators)
        {
            mutator.Mutate(context);
        }

        return new(InjectionOutcomeKind.Injected, decision.Reason, mutated, decision, plan, [.. plan.Warnings, .. context.Warnings]);
    }
}
