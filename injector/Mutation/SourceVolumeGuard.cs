using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Dataset options that reach the pod spec are checked here, because whoever can write a Dataset is not necessarily
/// allowed to choose the pod's volumes: option 'hostPath' must lie under a directory of the injector's allow-list
/// (empty by default), and no volume may be mounted in the sidecar where it would shadow the sidecar's binary, its
/// cache and shared directories, the service-account token or a system directory. Pod Security Admission levels that
/// forbid the resulting volume type are reported here too, instead of the API server's refusal.
/// </summary>
internal static class SourceVolumeGuard
{
    /// <summary>Directories a source volume may neither cover nor sit inside of.</summary>
    public static readonly IReadOnlyList<string> SystemPaths =
    [
        "/app", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run/secrets",
        "/sbin", "/sys", "/usr", "/var/run/secrets", "/var/lib/kubelet",
    ];

    /// <summary>The sidecar's own directories: its binary's, the cache, the shared dataset root, the pod info.</summary>
    public static IEnumerable<string> SidecarPaths(InjectorOptions options)
    {
        if (options.SidecarCommand.Count > 0 && Path.GetDirectoryName(options.SidecarCommand[0]) is { Length: > 1 } binaryDirectory)
        {
            yield return binaryDirectory;
        }

        yield return new CacheConfig().Directory;
        yield return InjectionPlan.SharedVolumeRoot;
        yield return SidecarDefaults.PodInfoDirectory;
    }

    /// <returns>The denial message, or null when the config's volume is acceptable.</returns>
    public static string? Check(PlannedDataset dataset, DatasetConfig config, InjectorOptions options, PodSecurityAdmission? podSecurity)
    {
        var where = $"dataset '{dataset.Dataset.Name}' in namespace '{dataset.Dataset.Namespace}'";
        if (SourceVolumeMutator.LocalVolume(config) is not null && CheckMountPath(config.Source["local://".Length..], $"the path of mountPoint '{config.Source}'", where, options) is { } localError)
        {
            return localError;
        }

        if (config.Options.TryGetValue(SourceVolumeMutator.HostPathOption, out var hostPath) && hostPath.Length > 0)
        {
            if (podSecurity is not null)
            {
                return $"{where}: option '{SourceVolumeMutator.HostPathOption}' needs a hostPath volume, which Pod Security Admission forbids ({podSecurity.Describe(dataset.Dataset.Namespace)}): use option '{SourceVolumeMutator.ClaimNameOption}' (a PVC) instead";
            }

            if (!IsAllowedHostPath(hostPath, options.AllowedHostPaths))
            {
                var allowed = options.AllowedHostPaths.Count == 0
                    ? "is empty"
                    : "allows only directories under " + string.Join(", ", options.AllowedHostPaths);
                return $"{where}: option '{SourceVolumeMutator.HostPathOption}' '{hostPath}' is not allowed: the injector's hostPath allow-list (Injector:AllowedHostPaths) {allowed}";
            }
        }

        if (SourceVolumeMutator.TryParse(config.Source, out _, out _))
        {
            if (podSecurity is { ForbidsNfsVolumes: true })
            {
                return $"{where}: mountPoint '{config.Source}' needs an nfs volume, which Pod Security Admission forbids ({podSecurity.Describe(dataset.Dataset.Namespace)}): serve the export through a PVC (local:// with option '{SourceVolumeMutator.ClaimNameOption}')";
            }

            if (config.Options.TryGetValue(SourceVolumeMutator.LocalPathOption, out var localPath) && localPath.Length > 0
                && CheckMountPath(localPath, $"option '{SourceVolumeMutator.LocalPathOption}' '{localPath}'", where, options) is { } nfsError)
            {
                return nfsError;
            }
        }

        return null;
    }

    private static string? CheckMountPath(string path, string what, string where, InjectorOptions options)
    {
        if (Normalize(path) is not { } normalized)
        {
            return $"{where}: {what} is not a clean absolute path: expected /dir/... without '.' or '..' segments";
        }

        foreach (var reserved in SystemPaths.Concat(SidecarPaths(options)))
        {
            if (IsSameOrUnder(normalized, reserved) || IsSameOrUnder(reserved, normalized))
            {
                return $"{where}: {what} would mount a volume over '{reserved}' in the sidecar, a system or sidecar directory: expected a path outside it, such as /mnt/<name>";
            }
        }

        return null;
    }

    public static bool IsAllowedHostPath(string hostPath, IReadOnlyList<string> allowList) =>
        Normalize(hostPath) is { } normalized && allowList.Any(allowed => Normalize(allowed) is { } root && IsSameOrUnder(normalized, root));

    /// <summary>"/a//b/" → "/a/b"; null for a relative path or one with '.' or '..' segments.</summary>
    public static string? Normalize(string path)
    {
        if (!path.StartsWith('/'))
        {
            return null;
        }

        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Any(s => s is "." or "..") ? null : "/" + string.Join('/', segments);
    }

    private static bool IsSameOrUnder(string path, string root) =>
        root == "/" || path == root || path.StartsWith(root + "/", StringComparison.Ordinal);
}
