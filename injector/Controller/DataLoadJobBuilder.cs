using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>What a DataLoad run needs: the shared tier it fills (null: none configured) and its settings.</summary>
internal sealed record DataLoadPlan(InjectionSettings Settings, SharedCacheTier? Tier);

/// <summary>
/// The Kubernetes Job that runs one DataLoad against a shared cache tier: the sidecar image in its one-shot <c>warm</c>
/// mode, with a sidecar config built by admission's own code (<see cref="InjectionPlanner.TryBuildConfigs"/>, the
/// tier's <see cref="InjectionPlanner.PlanSharedCache"/>) and handed over exactly as to an injected pod: the
/// <c>sidecar-config</c> annotation read through a downward-API file, secrets as secretKeyRef env vars.
/// </summary>
internal static class DataLoadJobBuilder
{
    public const string ContainerName = "warm";
    public const string WarmCommand = "warm";

    /// <summary>Blocks queued for the tier in the warm Job: more than a serving sidecar's (a warm-up exists to write
    /// them all; a dropped write fails the run), bounded because each holds a block in memory.</summary>
    public const int WarmMaxPendingWrites = 64;

    /// <summary>Prefetch workers in the warm Job: the tier's write queue must keep up with them.</summary>
    public const int WarmWorkers = 8;

    /// <summary>The settings and tier of a DataLoad: its own annotations (serverless.fluid.io/shared-cache,
    /// cache-size, sidecar-resources) over the first InjectionPolicy of its namespace that names a shared cache, over the
    /// injector's defaults (Injector:DefaultSharedCache).</summary>
    public static DataLoadPlan? Plan(FluidDataLoad load, ClusterState cluster, InjectorOptions options, out string? error)
    {
        var policy = cluster.Policies(load.Namespace).FirstOrDefault(p => p.Defaults.ContainsKey(Annotations.SharedCache));
        var settings = InjectionSettingsResolver.Resolve(load.Annotations, policy, options, out error);
        return error is null ? new DataLoadPlan(settings, settings.SharedCache) : null;
    }

    /// <summary>The Job's name for a run: "&lt;dataload&gt;-warm" for Once, "&lt;dataload&gt;-&lt;unix minutes&gt;" for a Cron run.</summary>
    public static string JobName(FluidDataLoad load, DateTimeOffset? scheduled)
    {
        var suffix = scheduled is { } time ? "-" + (time.ToUnixTimeSeconds() / 60).ToString(CultureInfo.InvariantCulture) : "-warm";
        var name = load.Name.Length + suffix.Length > 63 ? load.Name[..(63 - suffix.Length)].TrimEnd('-', '.') : load.Name;
        return name + suffix;
    }

    /// <summary>The sidecar config of the warm run: every mount of the dataset with the DataLoad's targets as its prefetch
    /// list, the tier, the endpoints on loopback only.</summary>
    public static bool TryBuildConfig(
        FluidDataLoad load,
        FluidDataset dataset,
        DataLoadPlan plan,
        ClusterState cluster,
        InjectorOptions options,
        out SidecarConfig config,
        out List<(string EnvName, SecretOption Secret)> secretEnv,
        out string? error)
    {
        config = null!;
        secretEnv = [];
        if (!InjectionPlanner.TryBuildConfigs(dataset, sharedVolume: false, DatasetModes.S3, [], cluster, out var configs, out secretEnv, out error))
        {
            return false;
        }

        if (!TryAssignTargets(load, dataset, configs, out error))
        {
            return false;
        }

        var (tier, tierEnv) = InjectionPlanner.PlanSharedCache(plan.Tier);
        if (tier is not null)
        {
            tier.MaxPendingWrites = Math.Max(tier.MaxPendingWrites, WarmMaxPendingWrites);
        }

        secretEnv.AddRange(tierEnv);
        config = new SidecarConfig
        {
            Mode = DatasetModes.S3,
            S3 = new EndpointConfig { Address = SidecarDefaults.AdminLocalAddress, Port = options.S3Port },
            Admin = new AdminEndpointConfig { Address = SidecarDefaults.AdminLocalAddress, Port = options.AdminPort, LocalPort = options.AdminLocalPort },
            Cache = new CacheConfig { QuotaBytes = plan.Settings.CacheSizeBytes, Medium = plan.Settings.CacheMedium },
            Prefetch = new PrefetchConfig { Workers = WarmWorkers },
            Datasets = configs,
            SharedCache = tier,
        };
        var errors = SidecarConfigValidator.Validate(config);
        if (errors.Count > 0)
        {
            error = $"the sidecar could not warm dataset '{dataset.Name}': {string.Join("; ", errors)}";
            return false;
        }

        return true;
    }

    /// <summary>spec.target paths are paths in the dataset: with one mount they are that mount's keys; with several the
    /// first segment names the mount (Fluid shows mount "a" at "/a").</summary>
    internal static bool TryAssignTargets(FluidDataLoad load, FluidDataset dataset, IReadOnlyList<DatasetConfig> configs, out string? error)
    {
        error = null;
        var targets = load.Targets.Count == 0 ? ["/"] : load.Targets;
        if (configs.Count == 1)
        {
            configs[0].Prefetch = targets;
            return true;
        }

        var perMount = configs.Select(_ => new List<string>()).ToList();
        foreach (var target in targets)
        {
            if (target == "/")
            {
                perMount.ForEach(list => list.Add("/"));
                continue;
            }

            var (first, rest) = target.Split('/', 2) is [var head, var tail] ? (head, tail) : (target, "");
            var index = dataset.Mounts.ToList().FindIndex(m => m.Name == first);

            if (index < 0)
            {
                error = $"DataLoad '{load.Namespace}/{load.Name}': spec.target path '/{target}' names no mount of dataset '{dataset.Name}': expected '/<mount name>/…' with one of {string.Join(", ", dataset.Mounts.Select(m => "'" + m.Name + "'"))}";
                return false;
            }

            perMount[index].Add(rest.Length > 0 ? rest : "/");
        }

        for (var i = 0; i < configs.Count; i++)
        {
            configs[i].Prefetch = perMount[i];
        }

        return true;
    }

    /// <summary>The batch/v1 Job: owned by the DataLoad (deleted with it), never injected itself, restricted security
    /// context, no service account token, the config in its pod template's annotation.</summary>
    public static JsonObject Build(
        FluidDataLoad load,
        string jobName,
        SidecarConfig config,
        IReadOnlyList<(string EnvName, SecretOption Secret)> secretEnv,
        InjectionSettings settings,
        InjectorOptions options)
    {
        var labels = new JsonObject
        {
            [FluidDataLoad.JobLabel] = load.Name,
            ["app.kubernetes.io/managed-by"] = "fluid-serverless",
        };
        var podLabels = (JsonObject)labels.DeepClone();
        podLabels[Annotations.Inject] = "false"; // the warm pod carries its own sidecar process: never inject it

        var env = new JsonArray(new JsonObject { ["name"] = EnvironmentNames.SidecarAnnotationsFile, ["value"] = SidecarDefaults.AnnotationsFile });
        foreach (var (envName, secret) in secretEnv)
        {
            env.Add(new JsonObject
            {
                ["name"] = envName,
                ["valueFrom"] = new JsonObject { ["secretKeyRef"] = new JsonObject { ["name"] = secret.SecretName, ["key"] = secret.SecretKey } },
            });
        }

        var resources = new JsonObject();
        if (settings.ResourceRequests.Count > 0)
        {
            resources["requests"] = ToObject(settings.ResourceRequests);
        }

        if (settings.ResourceLimits.Count > 0)
        {
            resources["limits"] = ToObject(settings.ResourceLimits);
        }

        var container = new JsonObject
        {
            ["name"] = ContainerName,
            ["image"] = options.SidecarImage,
            ["imagePullPolicy"] = options.SidecarImagePullPolicy,
            ["command"] = options.SidecarCommand.ToJsonArray(),
            ["args"] = options.SidecarArgs.Append(WarmCommand).ToJsonArray(),
            ["env"] = env,
            ["resources"] = resources,
            ["securityContext"] = SidecarContainerMutator.RestrictedSecurityContext(),
            ["volumeMounts"] = new JsonArray(
                new JsonObject { ["name"] = "podinfo", ["mountPath"] = SidecarDefaults.PodInfoDirectory, ["readOnly"] = true },
                new JsonObject { ["name"] = "cache", ["mountPath"] = config.Cache.Directory }),
        };
        var spec = new JsonObject
        {
            ["backoffLimit"] = 2,
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["labels"] = podLabels,
                    ["annotations"] = new JsonObject { [Annotations.SidecarConfig] = JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig) },
                },
                ["spec"] = new JsonObject
                {
                    ["restartPolicy"] = "Never",
                    ["automountServiceAccountToken"] = false,
                    ["containers"] = new JsonArray(container),
                    ["volumes"] = new JsonArray(
                        new JsonObject
                        {
                            ["name"] = "podinfo",
                            ["downwardAPI"] = new JsonObject
                            {
                                ["items"] = new JsonArray(new JsonObject { ["path"] = "annotations", ["fieldRef"] = new JsonObject { ["fieldPath"] = "metadata.annotations" } }),
                            },
                        },
                        new JsonObject
                        {
                            ["name"] = "cache",
                            ["emptyDir"] = new JsonObject { ["sizeLimit"] = settings.CacheSize },
                        }),
                },
            },
        };
        if (load.TtlSecondsAfterFinished is { } ttl)
        {
            spec["ttlSecondsAfterFinished"] = ttl;
        }

        var metadata = new JsonObject
        {
            ["name"] = jobName,
            ["namespace"] = load.Namespace,
            ["labels"] = labels,
        };
        if (load.Uid is { Length: > 0 } uid)
        {
            // deleted with its DataLoad by the garbage collector; no blockOwnerDeletion (it would need update on dataloads/finalizers)
            metadata["ownerReferences"] = new JsonArray(new JsonObject
            {
                ["apiVersion"] = $"{FluidDataLoad.ApiGroup}/{FluidDataLoad.ApiVersion}",
                ["kind"] = FluidDataLoad.Kind,
                ["name"] = load.Name,
                ["uid"] = uid,
                ["controller"] = true,
            });
        }

        return new JsonObject { ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["metadata"] = metadata, ["spec"] = spec };
    }

    private static JsonObject ToObject(IReadOnlyDictionary<string, string> values)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            obj[key] = value;
        }

        return obj;
    }
}
