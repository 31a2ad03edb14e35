namespace Fluid.Serverless.Contracts;

/// <summary>
/// Pod/namespace labels and annotations of the injector↔sidecar contract.
/// The prefix is <c>serverless.fluid.io/</c>; Fluid's own keys are kept so Fluid users switch without edits.
/// </summary>
public static class Annotations
{
    public const string Prefix = "serverless.fluid.io/";

    /// <summary>Pod label or annotation: "true" opts in, "false" opts out.</summary>
    public const string Inject = Prefix + "inject";

    /// <summary>Fluid's opt-out label: "false" means never inject.</summary>
    public const string FluidEnableInjection = "fluid.io/enable-injection";

    /// <summary>Namespace label: "enabled" injects every pod of the namespace that does not opt out.</summary>
    public const string NamespaceInjection = Prefix + "injection";

    /// <summary>"name[:/mount/path],…" datasets to serve in addition to the PVC-backed ones.</summary>
    public const string Datasets = Prefix + "datasets";

    public const string Mode = Prefix + "mode";
    public const string CacheSize = Prefix + "cache-size";
    public const string CacheMedium = Prefix + "cache-medium";
    public const string Prefetch = Prefix + "prefetch";
    public const string WaitForPrefetch = Prefix + "wait-for-prefetch";
    public const string SidecarResources = Prefix + "sidecar-resources";
    public const string NativeSidecar = Prefix + "native-sidecar";
    public const string Platform = Prefix + "platform";

    /// <summary>The shared block tier of the pod: the name of a tier defined in the injector configuration or the
    /// pod's InjectionPolicy, or "none".</summary>
    public const string SharedCache = Prefix + "shared-cache";
    /// <summary>The S3 endpoint's posture: "default" or "strict" (see <see cref="S3AuthPostures"/>).</summary>
    public const string S3Auth = Prefix + "s3-auth";

    /// <summary>Per-pod sidecar image; honoured only when the injector's configuration allows its repository
    /// (Injector:AllowedSidecarImages, empty by default: no override).</summary>
    public const string SidecarImage = Prefix + "sidecar-image";

    /// <summary>The sidecar's minimum log level: trace, debug, information, warning, error or critical.</summary>
    public const string SidecarLogLevel = Prefix + "sidecar-log-level";

    /// <summary>Extra env for the sidecar container only, as a JSON object of strings (<c>{"NAME": "value"}</c>);
    /// names the injector sets itself (FLUID_*, the log level) are refused.</summary>
    public const string SidecarEnv = Prefix + "sidecar-env";

    /// <summary>JSON of <see cref="SidecarConfig"/>; never holds secrets. Reaches the sidecar through a downward-API file.</summary>
    public const string SidecarConfig = Prefix + "sidecar-config";

    /// <summary>JSON describing what the injector added; its presence makes re-invocation a no-op.</summary>
    public const string Status = Prefix + "status";

    /// <summary>Label set on injected pods.</summary>
    public const string InjectedLabel = "done.sidecar.fluid.io/inject";
}
