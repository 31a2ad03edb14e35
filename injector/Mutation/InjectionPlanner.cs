using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Resolves what an injection adds: which volumes are datasets (a PVC named after a Dataset, or labelled by Fluid
/// fluid.io/s-&lt;namespace&gt;-&lt;name&gt;), which datasets the annotation adds, the effective mode, native vs legacy
/// sidecar, and the sidecar's dataset configs. Any unresolvable input is an error: the pod gets everything or a denial.
/// </summary>
internal static class InjectionPlanner
{
    public const string FluidClaimLabelPrefix = "fluid.io/s-";

    public static InjectionPlan? Plan(JsonObject pod, string @namespace, InjectionSettings settings, ClusterState cluster, InjectorOptions options, out string? error)
    {
        error = null;
        var spec = pod.Obj("spec");
        var warnings = new List<string>();
        var platform = PlatformProfile.Detect(pod, settings.Platform);
        var appContainers = SelectAppContainers(spec, platform);
        if (appContainers.Count == 0)
        {
            error = "the pod has no container to give the data to (Knative pods need a 'user-container')";
            return null;
        }

        // 1. datasets behind the pod's PVC volumes
        var volumesByDataset = new Dictionary<string, string>(StringComparer.Ordinal);
        var datasets = new List<(FluidDataset Dataset, string? Volume, bool ReplacesClaim, List<string> Paths)>();
        foreach (var volume in spec.Arr("volumes").Objects())
        {
            if (volume.Obj("persistentVolumeClaim").Str("claimName") is not { } claimName || volume.Str("name") is not { } volumeName)
            {
                continue;
            }

            var claim = cluster.FindClaim(@namespace, claimName);
            var dataset = cluster.FindDataset(@namespace, claimName);
            var labelledByFluid = claim?.Labels.Keys.Any(k => k.StartsWith(FluidClaimLabelPrefix, StringComparison.Ordinal)) == true;
            if (dataset is null && labelledByFluid)
            {
                error = $"dataset '{claimName}' not found in namespace '{@namespace}' (volume '{volumeName}' claims a Fluid dataset PVC)";
                return null;
            }

            if (dataset is null)
            {
                continue; // an ordinary PVC: not ours
            }

            if (volumesByDataset.TryGetValue(dataset.Name, out var firstVolume))
            {
                error = $"dataset '{dataset.Name}' in namespace '{@namespace}' is claimed by two volumes ('{firstVolume}' and '{volumeName}'): mount one volume several times instead";
                return null;
            }

            volumesByDataset[dataset.Name] = volumeName;
            datasets.Add((dataset, volumeName, true, []));
        }

        // 2. datasets named by the annotation (or policy)
        var names = new NameAllocator(spec.Arr("volumes").Objects().Select(v => v.Str("name") ?? ""));
        foreach (var request in settings.Datasets)
        {
            var index = datasets.FindIndex(d => d.Dataset.Name == request.Name);
            if (index < 0)
            {
                var dataset = cluster.FindDataset(@namespace, request.Name);
                if (dataset is null)
                {
                    error = $"dataset '{request.Name}' not found in namespace '{@namespace}' (named in annotation '{Annotations.Datasets}')";
                    return null;
                }

                datasets.Add((dataset, null, false, []));
                index = datasets.Count - 1;
            }

            if (request.MountPath is { } path)
            {
                var entry = datasets[index];
                entry.Volume ??= names.Allocate("fluid-dataset-" + entry.Dataset.Name);
                entry.Paths.Add(path);
                datasets[index] = entry;
            }
        }

        if (datasets.Count == 0)
        {
            return null; // nothing to serve: the caller skips the pod
        }

        var anyVolume = datasets.Any(d => d.Volume is not null);
        var podSecurity = PodSecurityAdmission.Enforced(cluster.NamespaceLabels(@namespace));
        var (mode, modeReason) = ChooseMode(anyVolume, settings.Mode, platform, podSecurity, @namespace);
        if (mode == DatasetModes.Fuse && podSecurity is not null)
        {
            error = $"mode 'fuse' needs a privileged sidecar with SYS_ADMIN, which Pod Security Admission forbids ({podSecurity.Describe(@namespace)}): use mode 'copy', 's3' or 'auto'";
            return null;
        }

        if (settings.Mode == DatasetModes.Auto && mode == DatasetModes.Copy && podSecurity is not null && !platform.Unprivileged)
        {
            warnings.Add($"mode 'auto' chose 'copy', not 'fuse': Pod Security Admission forbids the privileged FUSE sidecar ({podSecurity.Describe(@namespace)})");
        }

        var native = settings.NativeSidecar ?? options.NativeSidecarSupported;

        if (!native)
        {
            var volumeNames = datasets.Where(d => d.Volume is not null).Select(d => d.Volume!).ToHashSet(StringComparer.Ordinal);
            foreach (var init in spec.Arr("initContainers").Objects())
            {
                if (init.Arr("volumeMounts").Objects().FirstOrDefault(m => volumeNames.Contains(m.Str("name") ?? "")) is { } mount)
                {
                    error = $"init container '{init.Str("name")}' uses dataset volume '{mount.Str("name")}', which needs a native sidecar: set annotation '{Annotations.NativeSidecar}' to 'true' (Kubernetes ≥ 1.29)";
                    return null;
                }
            }
        }

        if (mode == DatasetModes.S3 && anyVolume)
        {
            // S3 only: do not add volumes nobody fills; a Dataset PVC volume must still go (the PVC cannot mount here)
            for (var i = 0; i < datasets.Count; i++)
            {
                if (!datasets[i].ReplacesClaim && datasets[i].Volume is not null)
                {
                    warnings.Add($"mode 's3': dataset '{datasets[i].Dataset.Name}' is served on http://127.0.0.1:{options.S3Port} only; its mount path(s) {string.Join(", ", datasets[i].Paths)} are not created");
                    datasets[i] = (datasets[i].Dataset, null, false, []);
                }
            }

            if (datasets.Any(d => d.ReplacesClaim))
            {
                warnings.Add($"mode 's3' serves the datasets on http://127.0.0.1:{options.S3Port} only: the Dataset PVC volumes become empty directories");
            }
        }

        var planned = new List<PlannedDataset>();
        foreach (var (dataset, volume, replacesClaim, paths) in datasets)
        {
            if (!TryBuildConfigs(dataset, volume is not null, mode, settings.Prefetch, cluster, out var configs, out var secretEnv, out error))
            {
                return null;
            }

            var entry = new PlannedDataset(dataset, volume, replacesClaim, paths, configs, secretEnv);
            foreach (var config in configs)
            {
                if (SourceVolumeGuard.Check(entry, config, options, podSecurity) is { } volumeError)
                {
                    error = volumeError;
                    return null;
                }
            }

            planned.Add(entry);
        }

        if (mode != DatasetModes.S3)
        {
            WarnAboutWritableMountsOfReadOnlyDatasets(spec, datasets.Where(d => d.ReplacesClaim && !d.Dataset.Writable).Select(d => (d.Dataset, d.Volume!)),
                appContainers, native && !platform.Knative, warnings);
        }

        if (platform.Unprivileged && mode == DatasetModes.Fuse)
        {
            warnings.Add($"FUSE mode on platform '{platform.Name}' runs a privileged sidecar because the pod asked for it");
        }

        var (sharedCache, sharedCacheSecretEnv) = PlanSharedCache(settings.SharedCache);
        return new InjectionPlan
        {
            Namespace = @namespace,
            Options = options,
            Settings = settings,
            Platform = platform,
            Mode = mode,
            ModeReason = modeReason,
            NativeSidecar = native,
            Datasets = planned,
            AppContainers = appContainers,
            Warnings = warnings,
            SharedCache = sharedCache,
            SharedCacheSecretEnv = sharedCacheSecretEnv,
        };
    }

    /// <summary>The tier's sidecar config; its Secret references become FLUID_SHARED_CACHE_* env vars the config names.</summary>
    internal static (SharedCacheConfig? Config, List<(string EnvName, SecretOption Secret)> SecretEnv) PlanSharedCache(SharedCacheTier? tier)
    {
        var secretEnv = new List<(string EnvName, SecretOption Secret)>();
        if (tier is null)
        {
            return (null, secretEnv);
        }

        string? Env(SecretKeyReference? reference, string envName, string role)
        {
            if (reference is null)
            {
                return null;
            }

            secretEnv.Add((envName, new SecretOption(role, reference.Name, reference.Key)));
            return envName;
        }

        var defaults = new SharedCacheConfig();
        var config = new SharedCacheConfig
        {
            Engine = tier.Engine,
            Endpoints = tier.Engine == SharedCacheEngines.Redis ? tier.Endpoints : [],
            Endpoint = tier.Endpoint,
            Bucket = tier.Bucket,
            Region = tier.Region ?? defaults.Region,
            Prefix = tier.Prefix ?? defaults.Prefix,
            Tls = tier.Tls,
            UserEnv = Env(tier.UserSecretRef, EnvironmentNames.SharedCacheUser, "user"),
            PasswordEnv = Env(tier.PasswordSecretRef, EnvironmentNames.SharedCachePassword, "password"),
            AccessKeyIdEnv = Env(tier.AccessKeyIdSecretRef, EnvironmentNames.SharedCacheAccessKeyId, "accessKeyId"),
            SecretAccessKeyEnv = Env(tier.SecretAccessKeySecretRef, EnvironmentNames.SharedCacheSecretAccessKey, "secretAccessKey"),
            TimeoutMilliseconds = tier.TimeoutMilliseconds ?? defaults.TimeoutMilliseconds,
            LeaseMilliseconds = tier.LeaseMilliseconds ?? defaults.LeaseMilliseconds,
            MaxPendingWrites = tier.MaxPendingWrites ?? defaults.MaxPendingWrites,
        };
        return (config, secretEnv);
    }

    /// <summary>The effective mode and why: auto picks FUSE only where a privileged sidecar may run.</summary>
    private static (string Mode, string Reason) ChooseMode(bool anyVolume, string requested, PlatformProfile platform, PodSecurityAdmission? podSecurity, string @namespace)
    {
        if (!anyVolume)
        {
            return (DatasetModes.S3, "no dataset asks for a volume: served on the S3 endpoint only");
        }

        if (requested != DatasetModes.Auto)
        {
            return (requested, $"mode '{requested}' requested");
        }

        if (platform.Unprivileged)
        {
            return (DatasetModes.Copy, $"auto: platform '{platform.Name}' runs unprivileged pods");
        }

        // copy needs only emptyDirs, which every Pod Security level allows, so it is always the fallback
        return podSecurity is not null
            ? (DatasetModes.Copy, $"auto: the privileged FUSE sidecar is forbidden by Pod Security Admission ({podSecurity.Describe(@namespace)})")
            : (DatasetModes.Fuse, "auto: FUSE (a privileged sidecar) is allowed in this namespace");
    }

    /// <summary>
    /// A read-only dataset's volume is mounted read-only in every app container (writes fail with EROFS instead of
    /// landing in a copy nobody reads); where the pod's own mount asked for write access (readOnly: false; left out
    /// is Kubernetes' default, not a request), the user hears why.
    /// </summary>
    private static void WarnAboutWritableMountsOfReadOnlyDatasets(
        JsonObject? spec, IEnumerable<(FluidDataset Dataset, string Volume)> readOnlyClaims, HashSet<string> appContainers, bool initContainersConsume, List<string> warnings)
    {
        var consumers = spec.Arr("containers").Objects().Where(c => appContainers.Contains(c.Str("name") ?? ""))
            .Concat(initContainersConsume ? spec.Arr("initContainers").Objects() : []).ToList();
        foreach (var (dataset, volume) in readOnlyClaims)
        {
            foreach (var container in consumers)
            {
                foreach (var mount in container.Arr("volumeMounts").Objects().Where(m => m.Str("name") == volume && m.Bool("readOnly") == false))
                {
                    warnings.Add($"container '{container.Str("name")}' mounts dataset '{dataset.Name}' (volume '{volume}') at {mount.Str("mountPath")} for writing, "
                        + "but the dataset is read-only: it is mounted readOnly, so writes fail with EROFS (give the Dataset accessModes [ReadWriteMany] to write through to its source)");
                }
            }
        }
    }

    private static HashSet<string> SelectAppContainers(JsonObject? spec, PlatformProfile platform)
    {
        var containers = spec.Arr("containers").Objects().Select(c => c.Str("name") ?? "").ToList();
        if (platform.Knative)
        {
            return containers.Contains(PlatformProfile.KnativeUserContainer)
                ? [PlatformProfile.KnativeUserContainer]
                : [.. containers.Where(c => c != PlatformProfile.KnativeQueueProxy)];
        }

        return [.. containers];
    }

    /// <summary>The sidecar's configs for one dataset (one per mount) and the secret env they need. Admission and the
    /// controller (after a Dataset edit) both build them here, so a running pod gets exactly what a new one would.</summary>
    /// <param name="sharedVolume">Whether the dataset has a shared volume in the pod (else S3 only).</param>
    internal static bool TryBuildConfigs(
        FluidDataset dataset,
        bool sharedVolume,
        string mode,
        IReadOnlyList<PrefetchEntry> prefetchEntries,
        ClusterState cluster,
        out List<DatasetConfig> configs,
        out List<(string EnvName, SecretOption Secret)> secretEnv,
        out string? error)
    {
        configs = [];
        secretEnv = [];
        error = null;
        if (dataset.Mounts.Count == 0)
        {
            error = $"dataset '{dataset.Name}' in namespace '{dataset.Namespace}' has no spec.mounts: nothing to serve";
            return false;
        }

        var root = sharedVolume && mode != DatasetModes.S3 ? InjectionPlan.SharedVolumeRoot + "/" + dataset.Name : null;
        var prefetch = prefetchEntries.Where(p => p.Dataset is null || p.Dataset == dataset.Name).Select(p => p.Path).ToList();
        var envPrefix = EnvironmentNames.SecretOptionPrefix + EnvToken(dataset.Name) + "_";
        var secretIndex = 0;
        var gateway = GatewayRuntime(dataset, cluster);
        for (var i = 0; i < dataset.Mounts.Count; i++)
        {
            var mount = dataset.Mounts[i];
            if (!mount.MountPoint.Contains("://", StringComparison.Ordinal))
            {
                error = $"dataset '{dataset.Name}' in namespace '{dataset.Namespace}': invalid mountPoint '{mount.MountPoint}' in spec.mounts[{i}]: expected scheme://location: {SidecarConfigValidator.SourceSchemesExpected}";
                return false;
            }

            var single = dataset.Mounts.Count == 1;
            var mountName = string.IsNullOrEmpty(mount.Name) ? i.ToString(CultureInfo.InvariantCulture) : mount.Name;
            var subPath = mount.Path is { Length: > 0 } path ? path : single ? "/" : "/" + mountName;
            var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var secret in mount.Secrets)
            {
                if (secret.SecretName.Length == 0 || secret.SecretKey.Length == 0)
                {
                    error = $"dataset '{dataset.Name}' in namespace '{dataset.Namespace}': encryptOptions '{secret.OptionName}' needs valueFrom.secretKeyRef name and key";
                    return false;
                }

                var envName = envPrefix + (secretIndex++).ToString(CultureInfo.InvariantCulture);
                secrets[secret.OptionName] = envName;
                secretEnv.Add((envName, secret));
            }

            configs.Add(new DatasetConfig
            {
                Name = single ? dataset.Name : BucketName(dataset.Name + "-" + mountName),
                Source = mount.MountPoint,
                Options = mount.Options,
                SecretOptions = secrets,
                MountPath = root is null ? null : subPath == "/" ? root : root + "/" + subPath.Trim('/'),
                ReadOnly = !dataset.Writable || mount.ReadOnly,
                Prefetch = prefetch,
                Gateway = !dataset.Writable || mount.ReadOnly ? GatewayConfig(gateway, mount) : null,
            });
        }

        return true;
    }

    /// <summary>The first runtime Fluid bound the dataset to that serves an S3 gateway (status.runtimes[]).</summary>
    private static FluidRuntime? GatewayRuntime(FluidDataset dataset, ClusterState cluster) =>
        dataset.Runtimes.Select(r => cluster.FindRuntime(r.Type, r.Namespace, r.Name)).FirstOrDefault(r => r?.S3Endpoint is not null);

    /// <summary>
    /// Where a mount appears on the runtime's S3 gateway. Fluid mounts each Dataset mount in Alluxio's namespace at
    /// mount.path when absolute, else at /&lt;mount.name&gt;; Alluxio's S3 API serves the top-level directory as the
    /// bucket and the rest as the key prefix. A mount at the root (no top-level directory) or under a directory that
    /// is no bucket name has no S3 view: the dataset then reads its source only.
    /// </summary>
    private static DatasetGatewayConfig? GatewayConfig(FluidRuntime? runtime, DatasetMount mount)
    {
        if (runtime?.S3Endpoint is not { } endpoint)
        {
            return null;
        }

        var path = mount.Path is { Length: > 0 } absolute && absolute.StartsWith('/') ? absolute : "/" + mount.Name.TrimStart('/');
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || !SidecarConfigValidator.IsValidBucketName(segments[0]) || segments.Any(s => s is "." or ".."))
        {
            return null;
        }

        return new DatasetGatewayConfig
        {
            Source = "s3://" + string.Join('/', segments),
            Options = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["endpoint"] = endpoint,
                ["pathStyle"] = "true",
                ["region"] = "us-east-1",
                ["anonymous"] = "true",
            },
            Runtime = $"{runtime.Namespace}/{runtime.Name} ({runtime.Type})",
        };
    }

    /// <summary>FLUID_SECRET_&lt;DATASET&gt;_&lt;N&gt;: env names allow only [A-Z0-9_].</summary>
    public static string EnvToken(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }

        return builder.ToString();
    }

    private static string BucketName(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.' ? c : '-');
        }

        var bucket = builder.ToString();
        return bucket.Length > 63 ? bucket[..63].TrimEnd('-', '.') : bucket;
    }
}
