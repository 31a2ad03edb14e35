namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// The Pod Security Admission level a namespace enforces (label pod-security.kubernetes.io/enforce). "baseline"
/// and "restricted" reject a privileged container, added capabilities such as SYS_ADMIN and hostPath volumes;
/// "restricted" also rejects volume types other than configMap, csi, downwardAPI, emptyDir, ephemeral,
/// persistentVolumeClaim, projected and secret (an in-tree nfs volume among them). The API server would refuse
/// such a pod with a message that does not mention the injector, so the injector decides (or denies) first.
/// </summary>
internal sealed record PodSecurityAdmission(string Level)
{
    public const string EnforceLabel = "pod-security.kubernetes.io/enforce";

    /// <summary>The namespace's enforced level when it forbids privileged pods; null for "privileged", no label or
    /// an unknown value (the API server treats an unknown level as an error elsewhere, not as a restriction).</summary>
    public static PodSecurityAdmission? Enforced(IReadOnlyDictionary<string, string> namespaceLabels) =>
        namespaceLabels.TryGetValue(EnforceLabel, out var level) && level is "baseline" or "restricted" ? new(level) : null;

    public bool ForbidsNfsVolumes => Level == "restricted";

    /// <summary>"label pod-security.kubernetes.io/enforce=baseline on namespace 'team'".</summary>
    public string Describe(string @namespace) => $"label {EnforceLabel}={Level} on namespace '{@namespace}'";
}
