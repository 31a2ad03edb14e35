using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// A stable hash of everything, other than the image and the pod's own settings, that shapes the injected sidecar:
/// the injector settings it is built from (pull policy, command, args, wait command, ports, FUSE privilege drop), the sidecar config's
/// schema version and <see cref="Revision"/>. The status annotation records it, so `analyze` can tell a pod whose
/// sidecar differs from what the injector would add now, without guessing from the pod spec.
/// </summary>
internal static class SidecarTemplate
{
    /// <summary>Raise when a mutator changes what it injects for the same settings (a new env var, probe or mount):
    /// pods injected before the change then report as outdated.</summary>
    public const int Revision = 1;

    // Options are immutable and replaced whole on a reload, so a hash per instance is computed once, not per
    // admission. Keyed by reference: a record's `with` copy is a new key, never a stale hash.
    private static readonly ConditionalWeakTable<InjectorOptions, string> Hashes = [];

    public static string Hash(InjectorOptions options) => Hashes.GetValue(options, Compute);

    private static string Compute(InjectorOptions options)
    {
        var shape = new JsonObject
        {
            ["revision"] = Revision,
            ["configVersion"] = new SidecarConfig().Version,
            ["pullPolicy"] = options.SidecarImagePullPolicy,
            ["command"] = options.SidecarCommand.ToJsonArray(),
            ["args"] = options.SidecarArgs.ToJsonArray(),
            ["legacyWait"] = options.LegacyWaitCommand.ToJsonArray(),
            ["ports"] = new JsonArray(options.S3Port, options.AdminPort, options.AdminLocalPort),
            ["fuseDropPrivileges"] = options.FuseDropPrivileges,
        };
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(shape.ToJsonString()));
        // 64 bits tell templates apart; the annotation stays short
        return Convert.ToHexStringLower(digest.AsSpan(0, 8));
    }
}
