using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// Keeps a live reload from widening what the pod was admitted with. The sidecar-config annotation can be edited by
/// anyone who may patch the pod, and the webhook sees only CREATE, so the config the sidecar started with (the
/// admitted one, after env overrides) is the bound for every later one:
/// <list type="bullet">
/// <item><c>upstream</c>, <c>credentials</c> (the S3 posture), <c>sharedCache</c> and the <c>s3</c>/<c>admin</c> listener
/// addresses and ports do not change;</item>
/// <item><c>secretOptions</c> name only env vars the admitted config named (the ones the injector created from
/// secretKeyRefs), and each such secret goes only to a destination it was admitted with (the same source scheme and
/// endpoint option for s3/oss, the same scheme://host:port otherwise), so an edit cannot send a secret elsewhere;</item>
/// <item>a <c>local://</c> source is the same as, or under, an admitted local source with the same <c>hostPath</c>
/// option, and an <c>nfs://</c> source is exactly an admitted dataset's (same name, source and <c>localPath</c>): both
/// need volumes the pod got at admission, and a path outside them would read the sidecar's own file system.</item>
/// </list>
/// Remote sources (s3, oss, http(s), hdfs, webhdfs) without secrets may change freely: that is what live switching is for.
/// </summary>
internal sealed class ConfigReloadGuard(SidecarConfig admitted)
{
    /// <summary>The reasons the reload widens the admitted config; empty when it does not.</summary>
    public IReadOnlyList<string> Check(SidecarConfig next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var errors = new List<string>();
        Unchanged("upstream", Json(admitted.Upstream, ContractsJsonContext.Default.UpstreamConfig), Json(next.Upstream, ContractsJsonContext.Default.UpstreamConfig), errors);
        Unchanged("credentials", Json(admitted.Credentials, ContractsJsonContext.Default.PodCredentialsConfig), Json(next.Credentials, ContractsJsonContext.Default.PodCredentialsConfig), errors);
        Unchanged("sharedCache", Json(admitted.SharedCache, ContractsJsonContext.Default.SharedCacheConfig), Json(next.SharedCache, ContractsJsonContext.Default.SharedCacheConfig), errors);
        Unchanged("s3", Endpoint(admitted.S3), Endpoint(next.S3), errors);
        Unchanged("admin", AdminEndpoints(admitted.Admin), AdminEndpoints(next.Admin), errors);
        Unchanged("dropPrivileges", Json(admitted.DropPrivileges, ContractsJsonContext.Default.DropPrivilegesConfig), Json(next.DropPrivileges, ContractsJsonContext.Default.DropPrivilegesConfig), errors);

        var admittedSecrets = new HashSet<(string Env, string Destination)>();
        foreach (var dataset in admitted.Datasets)
        {
            foreach (var envName in dataset.SecretOptions.Values)
            {
                admittedSecrets.Add((envName, Destination(dataset)));
            }
        }

        for (var i = 0; i < next.Datasets.Count; i++)
        {
            var dataset = next.Datasets[i];
            var field = $"datasets[{i}]";
            foreach (var (option, envName) in dataset.SecretOptions)
            {
                if (!admittedSecrets.Any(secret => secret.Env == envName))
                {
                    errors.Add($"{field}.secretOptions.{option}: '{envName}' is not an env var the pod was admitted with: expected one of the admitted secretOptions ({Names(admittedSecrets.Select(secret => secret.Env))})");
                }
                else if (!admittedSecrets.Contains((envName, Destination(dataset))))
                {
                    errors.Add($"{field}.secretOptions.{option}: '{envName}' would be sent to {Destination(dataset)}: expected a destination it was admitted with ({Names(admittedSecrets.Where(secret => secret.Env == envName).Select(secret => secret.Destination))})");
                }
            }

            CheckVolumeSource(field, dataset, errors);
        }

        return errors;
    }

    private void CheckVolumeSource(string field, DatasetConfig dataset, List<string> errors)
    {
        if (!Uri.TryCreate(dataset.Source, UriKind.Absolute, out var source))
        {
            return;
        }

        if (source.Scheme == "local")
        {
            var path = dataset.Source["local://".Length..].TrimEnd('/');
            var hostPath = dataset.Options.GetValueOrDefault("hostPath");
            var admittedLocal = admitted.Datasets.Where(d => d.Source.StartsWith("local://", StringComparison.Ordinal)).ToList();
            var covered = admittedLocal.Any(d =>
            {
                var root = d.Source["local://".Length..].TrimEnd('/');
                return d.Options.GetValueOrDefault("hostPath") == hostPath
                    && (path == root || path.StartsWith(root + "/", StringComparison.Ordinal) || root.Length == 0);
            });
            if (!covered)
            {
                errors.Add($"{field}.source: '{dataset.Source}' is not under a local source the pod was admitted with: expected a path under {Names(admittedLocal.Select(d => d.Source))} (a new path or hostPath needs a new volume: recreate the pod)");
            }
        }
        else if (source.Scheme == "nfs")
        {
            var localPath = dataset.Options.GetValueOrDefault("localPath");
            var admittedNfs = admitted.Datasets.Where(d => d.Source.StartsWith("nfs://", StringComparison.Ordinal)).ToList();
            if (!admittedNfs.Any(d => d.Name == dataset.Name && d.Source == dataset.Source && d.Options.GetValueOrDefault("localPath") == localPath))
            {
                errors.Add($"{field}.source: '{dataset.Source}' (dataset '{dataset.Name}') is not an NFS export the pod was admitted with: expected one of {Names(admittedNfs.Select(d => $"{d.Name}={d.Source}"))} (a new export needs a new volume: recreate the pod)");
            }
        }
    }

    /// <summary>Where a dataset's requests (and so its secrets) go.</summary>
    private static string Destination(DatasetConfig dataset)
    {
        if (!Uri.TryCreate(dataset.Source, UriKind.Absolute, out var source))
        {
            return dataset.Source;
        }

        if (source.Scheme is "s3" or "oss")
        {
            var endpoint = S3OptionNames.Endpoint.Select(name => dataset.Options.GetValueOrDefault(name)).FirstOrDefault(value => value is not null);
            return endpoint is null ? $"{source.Scheme}:// (default endpoint)" : $"{source.Scheme}:// at endpoint '{endpoint}'";
        }

        return source.GetLeftPart(UriPartial.Authority);
    }

    private static void Unchanged(string field, string admitted, string next, List<string> errors)
    {
        if (admitted != next)
        {
            errors.Add($"{field}: changed from {admitted} to {next}: expected it unchanged (fixed at admission; recreate the pod to change it)");
        }
    }

    private static string Endpoint(EndpointConfig endpoint) => $"{endpoint.Address}:{endpoint.Port}";

    private static string AdminEndpoints(AdminEndpointConfig admin) => $"{admin.Address}:{admin.Port}, 127.0.0.1:{admin.LocalPort}";

    private static string Json<T>(T? value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class =>
        value is null ? "none" : JsonSerializer.Serialize(value, typeInfo);

    private static string Names(IEnumerable<string> names)
    {
        var list = names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list);
    }
}
