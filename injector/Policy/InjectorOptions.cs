using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>Global injector configuration: the lowest level of the precedence chain (pod label &gt; pod annotation &gt;
/// InjectionPolicy &gt; namespace label &gt; these). Defaults are visible here.</summary>
internal sealed record InjectorOptions
{
    public string SidecarImage { get; init; } = "fluid-serverless/sidecar:latest";
    public string SidecarImagePullPolicy { get; init; } = "IfNotPresent";
    public IReadOnlyList<string> SidecarCommand { get; init; } = ["/app/fluid-sidecar"];
    public IReadOnlyList<string> SidecarArgs { get; init; } = [];

    /// <summary>Legacy (non-native) sidecars: the postStart hook that blocks the app containers until the sidecar is ready.</summary>
    public IReadOnlyList<string> LegacyWaitCommand { get; init; } = ["/app/fluid-sidecar", "wait-ready"];

    /// <summary>The injector's own namespace: never injected (the webhook must not depend on itself).</summary>
    public string InjectorNamespace { get; init; } = "fluid-serverless-system";

    /// <summary>Inject pods that neither opt in nor out and are not covered by a policy or namespace label.</summary>
    public bool InjectByDefault { get; init; }

    public string DefaultMode { get; init; } = DatasetModes.Auto;
    public string DefaultCacheSize { get; init; } = "10Gi";
    public string DefaultCacheMedium { get; init; } = "disk";
    public string DefaultSidecarResources { get; init; } = "cpu=100m,memory=128Mi";

    /// <summary>The shared block tier of pods that name none (serverless.fluid.io/shared-cache): a key of
    /// <see cref="SharedCacheTiers"/>, or "none".</summary>
    public string DefaultSharedCache { get; init; } = SharedCacheTier.None;

    /// <summary>Shared block tiers pods may name, by name (Injector:SharedCacheTiers:&lt;name&gt;:Engine, …:Endpoints:0, …).</summary>
    public IReadOnlyDictionary<string, SharedCacheTier> SharedCacheTiers { get; init; } = new Dictionary<string, SharedCacheTier>();

    /// <summary>Whether the cluster runs native sidecars (Kubernetes ≥ 1.29); detected from the server version at start.</summary>
    public bool NativeSidecarSupported { get; init; } = true;

    /// <summary>Node directories a Dataset's option 'hostPath' may name (the directory itself or one below it).
    /// Empty: no Dataset gets a hostPath volume, since whoever writes a Dataset could otherwise read any node path.</summary>
    public IReadOnlyList<string> AllowedHostPaths { get; init; } = [];

    /// <summary>FUSE sidecars drop root once their mounts are up (the sidecar config's dropPrivileges): a root mount
    /// helper without the secrets keeps mounting, and the process that parses remote data, holds the secrets and serves
    /// S3 runs as the image's non-root user with no capabilities. Off only for kernels or runtimes where the helper
    /// cannot take the sidecar's /dev/fuse descriptor (pidfd_getfd needs Linux 5.6).</summary>
    public bool FuseDropPrivileges { get; init; } = true;

    /// <summary>Image repositories (or repository prefixes ending in '/') a pod may pick its sidecar image from with
    /// serverless.fluid.io/sidecar-image or an InjectionPolicy's sidecarImage. Empty: no override, since whoever can
    /// create a pod would otherwise run any image with the sidecar's privileges and Secrets.</summary>
    public IReadOnlyList<string> AllowedSidecarImages { get; init; } = [];

    public int S3Port { get; init; } = SidecarDefaults.S3Port;
    public int AdminPort { get; init; } = SidecarDefaults.AdminPort;

    /// <summary>The sidecar's loopback-only admin port (/status, /prefetch, /quitquitquit); never on the pod IP.</summary>
    public int AdminLocalPort { get; init; } = SidecarDefaults.AdminLocalPort;

    /// <summary>Pod-local credentials given to app containers that set none: SDKs refuse to sign without some.
    /// They are not secrets (the sidecar does not verify them unless configured to) and are visible in the pod spec.</summary>
    public string PodLocalAccessKeyId { get; init; } = "fluid-serverless";
    public string PodLocalSecretAccessKey { get; init; } = "fluid-serverless";

    public static readonly IReadOnlySet<string> SystemNamespaces = new HashSet<string>(StringComparer.Ordinal) { "kube-system", "kube-public", "kube-node-lease" };
}
