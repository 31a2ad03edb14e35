using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// nfs://server/export/path datasets (NAS, CPFS, GlusterFS, EFC): the export becomes a Kubernetes in-tree <c>nfs</c>
/// volume (kubelet mounts it: no CSI driver, no privileged container, allowed on ECI) mounted in the sidecar only, at
/// the directory the sidecar serves it from (<see cref="SidecarDefaults.NfsMountPath"/>, or option 'localPath').
/// The app containers never get it: they see the data through the sidecar's cache, like every other source.
/// The volume is read-only unless the dataset is writable, so a read-only dataset cannot change the export.
/// </summary>
internal sealed class NfsVolumeMutator : IPodMutator
{
    public const string VolumeNamePrefix = "fluid-nfs-";

    /// <summary>The sidecar option that moves the mount (the sidecar's <c>NfsOptionNames.LocalPath</c>).</summary>
    public const string LocalPathOption = "localPath";

    public void Mutate(MutationContext context)
    {
        foreach (var config in context.Plan.Datasets.SelectMany(d => d.Configs))
        {
            if (!TryParse(config.Source, out var server, out var exportPath))
            {
                continue;
            }

            var volume = context.AddVolume(VolumeNamePrefix + config.Name.Replace('.', '-'), new JsonObject
            {
                ["nfs"] = new JsonObject
                {
                    ["server"] = server,
                    ["path"] = exportPath,
                    ["readOnly"] = config.ReadOnly,
                },
            });
            context.Sidecar.EnsureArr("volumeMounts").Add(new JsonObject
            {
                ["name"] = volume.Str("name"),
                ["mountPath"] = MountPath(config),
                ["readOnly"] = config.ReadOnly,
            });
        }
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
