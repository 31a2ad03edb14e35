using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Adds the sidecar. Native form (Kubernetes ≥ 1.29): the first init container with restartPolicy Always and a
/// startupProbe on the admin /readyz, so later init containers and the app start only once data is served, and Jobs
/// complete when their app containers do. Legacy form: the first app container with a postStart hook that blocks
/// until ready (kubelet starts containers in order and waits for postStart); Jobs finish through /quitquitquit.
/// </summary>
internal sealed class SidecarContainerMutator : IPodMutator
{
    public const string PreferredName = "fluid-serverless-sidecar";

    public void Mutate(MutationContext context)
    {
        var plan = context.Plan;
        var options = plan.Options;
        var name = context.ContainerNames.Allocate(PreferredName);
        var sidecar = new JsonObject
        {
            ["name"] = name,
            ["image"] = plan.SidecarImage,
            ["imagePullPolicy"] = options.SidecarImagePullPolicy,
            ["command"] = options.SidecarCommand.ToJsonArray(),
        };
        if (options.SidecarArgs.Count > 0)
        {
            sidecar["args"] = options.SidecarArgs.ToJsonArray();
        }

        sidecar["env"] = OverrideEnv(plan.Settings);
        sidecar["resources"] = Resources(plan);
        sidecar["volumeMounts"] = new JsonArray();
        var readiness = new JsonObject
        {
            ["httpGet"] = new JsonObject { ["path"] = "/readyz", ["port"] = options.AdminPort },
            ["periodSeconds"] = 1,
            ["failureThreshold"] = 600,
        };

        if (plan.NativeSidecar)
        {
            sidecar["restartPolicy"] = "Always";
            sidecar["startupProbe"] = readiness;
            context.Spec.EnsureArr("initContainers").Insert(0, sidecar);
        }
        else
        {
            // the postStart hook gates startup; readiness then only tracks a sidecar that stops serving
            sidecar["readinessProbe"] = new JsonObject
            {
                ["httpGet"] = readiness["httpGet"]!.DeepClone(),
                ["periodSeconds"] = 5,
                ["failureThreshold"] = 3,
            };
            sidecar["lifecycle"] = new JsonObject
            {
                ["postStart"] = new JsonObject { ["exec"] = new JsonObject { ["command"] = options.LegacyWaitCommand.ToJsonArray() } },
            };
            context.Spec.EnsureArr("containers").Insert(0, sidecar);
        }

        sidecar["securityContext"] = plan.Mode == Contracts.DatasetModes.Fuse ? FuseSecurityContext() : RestrictedSecurityContext();

        context.Sidecar = sidecar;
        context.SidecarName = name;
    }

    /// <summary>The uid and gid of the sidecar image's user (Dockerfile.sidecar: USER 65532:65532, the distroless
    /// "nonroot" user). Its files are readable by it; every directory it writes is an emptyDir, which kubelet
    /// creates world-writable (0777, memory or disk), so neither a pod fsGroup nor a chown is needed.</summary>
    public const int SidecarUserId = 65532;

    /// <summary>
    /// copy and s3 modes: the whole Pod Security "restricted" profile, written on the container so that a pod-level
    /// securityContext (runAsUser: 0, a weaker seccomp profile) cannot loosen it: container settings win.
    /// The root filesystem is read-only; the sidecar writes only to its emptyDirs (cache, shared datasets).
    /// </summary>
    public static JsonObject RestrictedSecurityContext() => new()
    {
        ["allowPrivilegeEscalation"] = false,
        ["capabilities"] = new JsonObject { ["drop"] = new JsonArray("ALL") },
        ["privileged"] = false,
        ["readOnlyRootFilesystem"] = true,
        ["runAsGroup"] = SidecarUserId,
        ["runAsNonRoot"] = true,
        ["runAsUser"] = SidecarUserId,
        ["seccompProfile"] = new JsonObject { ["type"] = "RuntimeDefault" },
    };

    /// <summary>
    /// FUSE mode needs mount(2) and /dev/fuse with Bidirectional propagation, hence a privileged container; the
    /// image's non-root user would hold no effective capabilities even there, so FUSE mode (and only FUSE mode) runs
    /// the sidecar as root. A privileged container runs unconfined whatever its seccompProfile says, so none is set.
    /// </summary>
    public static JsonObject FuseSecurityContext() => new()
    {
        ["privileged"] = true,
        ["runAsUser"] = 0,
        ["runAsNonRoot"] = false,
        ["capabilities"] = new JsonObject { ["add"] = new JsonArray("SYS_ADMIN") },
    };

    /// <summary>The pod's own sidecar env (log level, extra variables); the injector's variables follow from later
    /// mutators, whose names the overrides may not use.</summary>
    private static JsonArray OverrideEnv(InjectionSettings settings)
    {
        var env = new JsonArray();
        if (settings.SidecarLogLevel is { } level)
        {
            env.Add(new JsonObject { ["name"] = SidecarOverrides.LogLevelEnv, ["value"] = level });
        }

        foreach (var (name, value) in settings.SidecarEnv)
        {
            env.Add(new JsonObject { ["name"] = name, ["value"] = value });
        }

        return env;
    }

    private static JsonObject Resources(InjectionPlan plan)
    {
        var resources = new JsonObject();
        if (plan.Settings.ResourceRequests.Count > 0)
        {
            resources["requests"] = ToObject(plan.Settings.ResourceRequests);
        }

        if (plan.Settings.ResourceLimits.Count > 0)
        {
            resources["limits"] = ToObject(plan.Settings.ResourceLimits);
        }

        return resources;
    }

    private static JsonObject ToObject(IReadOnlyDictionary<string, string> map)
    {
        var obj = new JsonObject();
        foreach (var key in map.Keys.Order(StringComparer.Ordinal))
        {
            obj[key] = map[key];
        }

        return obj;
    }
}
