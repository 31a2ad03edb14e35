using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Volumes the sidecar needs to reach a source, mounted in the sidecar only.
/// nfs://server/export/path datasets (NAS, CPFS, GlusterFS, EFC): the export becomes a Kubernetes in-tree <c>nfs</c>
/// volume (kubelet mounts it: no CSI driver, no privileged container, allowed on ECI) mounted in the sidecar only, at
/// the directory the sidecar serves it from (<see cref="SidecarDefaults.NfsMountPath"/>, or option 'localPath').
/// The app containers never get it: they see the data through the sidecar's cache, like every other source.
/// The volume is read-only unless the dataset is writable, so a read-only dataset cannot change the export.
/// </summary>
/// <remarks>local:///path datasets with option 'hostPath' or 'claimName' (Lustre, platform mounts): see <see cref="LocalVolume"/>.</remarks>
internal sealed class SourceVolumeMutator : IPodMutator
{
    public const string VolumeNamePrefix = "fluid-nfs-";

    /// <summary>The sidecar option that moves the mount (the sidecar's <c>NfsOptionNames.LocalPath</c>).</summary>
    public const string LocalPathOption = "localPath";

    public void Mutate(MutationContext context)
    {
        foreach (var config in context.Plan.Datasets.SelectMany(d => d.Configs))
        {
            if (LocalVolume(config) is { } local)
            {
                AddSidecarVolume(context, "fluid-local-" + config.Name.Replace('.', '-'), local, config.Source["local://".Length..], config.ReadOnly);
                continue;
            }

            if (!TryParse(config.Source, out var server, out var exportPath))
            {
                continue;
            }

            var nfs = new JsonObject
            {
                ["nfs"] = new JsonObject
                {
                    ["server"] = server,
                    ["path"] = exportPath,
                },
            };
            if (config.ReadOnly)
            {
                nfs.Obj("nfs")!["readOnly"] = true; // false is the default; Kubernetes leaves it out, so do we
            }

            AddSidecarVolume(context, VolumeNamePrefix + config.Name.Replace('.', '-'), nfs, MountPath(config), config.ReadOnly);
        }
    }

    /// <summary>
    /// local:///path datasets (Lustre and other platform mounts) whose directory comes from the node
    /// (option 'hostPath') or from a PVC (option 'claimName'): that volume is mounted in the sidecar at the path of
    /// the URI. Without either option the path must already be in the sidecar image or come from elsewhere.
    /// </summary>
    public static JsonObject? LocalVolume(DatasetConfig config)
    {
        if (!config.Source.StartsWith("local:///", StringComparison.Ordinal))
        {
            return null;
        }

        if (config.Options.TryGetValue(HostPathOption, out var hostPath) && hostPath.Length > 0)
        {
            return new JsonObject { ["hostPath"] = new JsonObject { ["path"] = hostPath, ["type"] = "Directory" } };
        }

        return config.Options.TryGetValue(ClaimNameOption, out var claim) && claim.Length > 0
            ? new JsonObject { ["persistentVolumeClaim"] = config.ReadOnly ? new JsonObject { ["claimName"] = claim, ["readOnly"] = true } : new JsonObject { ["claimName"] = claim } }
            : null;
    }

    public const string HostPathOption = "hostPath";
    public const string ClaimNameOption = "claimName";

    private static void AddSidecarVolume(MutationContext context, string preferredName, JsonObject source, string mountPath, bool readOnly)
    {
        var volume = context.AddVolume(preferredName, source);
        var mount = new JsonObject { ["name"] = volume.Str("name"), ["mountPath"] = mountPath };
        if (readOnly)
        {
            mount["readOnly"] = true;
        }

        context.Sidecar.EnsureArr("volumeMounts").Add(mount);
    }

    public static string MountPath(DatasetConfig config) =>
        config.Options.TryGetValue(LocalPathOption, out var path) && path.Length > 0 ? path : SidecarDefaults.NfsMountPath(config.Name);

    /// <summary>nfs://server/export/path → (server, /export/path). False for any other scheme.</summary>
    public static bool TryParse(string source, out string server, out string exportPath)
    {
        server = "";
        exportPath = "";
        const string Scheme = "nfs://";
        if (!source.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = source[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return false;
        }

        server = rest[..slash];
        exportPath = rest[slash..].TrimEnd('/');
        if (exportPath.Length == 0)
        {
            exportPath = "/";
        }

        return true;
    }
}
