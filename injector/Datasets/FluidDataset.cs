using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Datasets;

/// <summary>The parts of a Fluid <c>Dataset</c> (<c>data.fluid.io/v1alpha1</c>) the injector needs.</summary>
internal sealed record FluidDataset
{
    public const string ApiGroup = "data.fluid.io";
    public const string ApiVersion = "v1alpha1";
    public const string Plural = "datasets";

    public required string Namespace { get; init; }
    public required string Name { get; init; }
    public IReadOnlyList<DatasetMount> Mounts { get; init; } = [];

    /// <summary>Fluid datasets are read-only unless spec.accessModes grants a ReadWrite mode.</summary>
    public bool Writable { get; init; }

    /// <summary>The runtimes Fluid bound the dataset to (status.runtimes[]); empty when unbound.</summary>
    public IReadOnlyList<RuntimeBinding> Runtimes { get; init; } = [];

    public static FluidDataset FromJson(JsonNode node)
    {
        var metadata = node.Obj("metadata");
        var spec = node.Obj("spec");
        var sharedOptions = spec.StringMap("sharedOptions");
        var sharedSecrets = ParseEncryptOptions(spec.Arr("sharedEncryptOptions"));
        var mounts = new List<DatasetMount>();
        foreach (var mount in spec.Arr("mounts").Objects())
        {
            var options = new Dictionary<string, string>(sharedOptions, StringComparer.Ordinal);
            foreach (var (key, value) in mount.StringMap("options"))
            {
                options[key] = value;
            }

            var secrets = sharedSecrets.Where(s => !mount.Arr("encryptOptions").Objects().Any(m => m.Str("name") == s.OptionName))
                .Concat(ParseEncryptOptions(mount.Arr("encryptOptions")))
                .ToList();
            mounts.Add(new DatasetMount(
                mount.Str("name") ?? "",
                mount.Str("mountPoint") ?? "",
                mount.Str("path"),
                mount.Bool("readOnly") ?? false,
                options,
                secrets));
        }

        return new FluidDataset
        {
            Namespace = metadata.Str("namespace") ?? "default",
            Name = metadata.Str("name") ?? "",
            Mounts = mounts,
            Runtimes = [.. node.Obj("status").Arr("runtimes").Objects()
                .Select(r => new RuntimeBinding(r.Str("namespace") ?? metadata.Str("namespace") ?? "default", r.Str("name") ?? "", (r.Str("type") ?? "").ToLowerInvariant()))],
            Writable = (spec.Arr("accessModes") ?? []).Any(m => m?.ToString() is "ReadWriteMany" or "ReadWriteOnce" or "ReadWriteOncePod"),
        };
    }

    private static List<SecretOption> ParseEncryptOptions(JsonArray? options) =>
        [.. options.Objects().Select(o => new SecretOption(
            o.Str("name") ?? "",
            o.Obj("valueFrom").Obj("secretKeyRef").Str("name") ?? "",
            o.Obj("valueFrom").Obj("secretKeyRef").Str("key") ?? ""))];
}

/// <param name="Name">Fluid's mount name (a subdirectory when the dataset has several mounts).</param>
/// <param name="MountPoint">A source URI; the schemes the sidecar serves are <c>SidecarConfigValidator.SourceSchemes</c> (s3, oss, http(s), hdfs, webhdfs, swebhdfs, nfs, local).</param>
/// <param name="Path">Where the mount appears inside the dataset; Fluid defaults it to "/&lt;name&gt;".</param>
internal sealed record DatasetMount(
    string Name,
    string MountPoint,
    string? Path,
    bool ReadOnly,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<SecretOption> Secrets);

/// <summary>An option whose value lives in a Secret: only the reference is ever copied, never the value.</summary>
internal sealed record SecretOption(string OptionName, string SecretName, string SecretKey);
