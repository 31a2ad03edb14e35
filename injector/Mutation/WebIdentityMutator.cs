using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Keyless cloud credentials for the sidecar: EKS's pod identity webhook (IRSA) and ACK's (RRSA) give the app
/// containers a role in env (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE; ALIBABA_CLOUD_ROLE_ARN +
/// ALIBABA_CLOUD_OIDC_PROVIDER_ARN + ALIBABA_CLOUD_OIDC_TOKEN_FILE) and mount the projected service-account token.
/// When an app container has a complete set, the sidecar gets the same variables (and the STS-related ones next to
/// them) and a read-only mount of the volume that holds the token file, so it reads with the pod's role. Nothing is
/// added when no app container has a role, and a variable the sidecar already has is kept. When those webhooks run
/// after this one, they give the sidecar the same themselves (they mutate every container).
/// </summary>
internal sealed class WebIdentityMutator : IPodMutator
{
    public const string AwsRoleArn = "AWS_ROLE_ARN";

    private static readonly (string[] Required, string TokenFile, string[] Companions)[] Mechanisms =
    [
        ([AwsRoleArn, "AWS_WEB_IDENTITY_TOKEN_FILE"], "AWS_WEB_IDENTITY_TOKEN_FILE",
            ["AWS_ROLE_SESSION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_ENDPOINT_URL_STS"]),
        (["ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"], "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            ["ALIBABA_CLOUD_ROLE_SESSION_NAME", "ALIBABA_CLOUD_STS_ENDPOINT", "ALIBABA_CLOUD_STS_REGION", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"]),
    ];

    public void Mutate(MutationContext context)
    {
        foreach (var (required, tokenFileName, companions) in Mechanisms)
        {
            foreach (var container in context.Spec.Arr("containers").Objects())
            {
                if (ReferenceEquals(container, context.Sidecar))
                {
                    continue;
                }

                var values = PlainValues(container, required, companions);
                if (!required.All(values.ContainsKey))
                {
                    continue;
                }

                var env = context.Sidecar.EnsureArr("env");
                var existing = env.Objects().Select(e => e.Str("name") ?? "").ToHashSet(StringComparer.Ordinal);
                foreach (var name in required.Concat(companions))
                {
                    if (values.TryGetValue(name, out var value) && existing.Add(name))
                    {
                        env.Add(new JsonObject { ["name"] = name, ["value"] = value });
                    }
                }

                MountTokenVolume(context, container, values[tokenFileName]);
                break;
            }
        }
    }

    /// <summary>The app's mount whose directory holds the token file, read-only in the sidecar at the same path.</summary>
    private static void MountTokenVolume(MutationContext context, JsonObject app, string tokenFile)
    {
        var mount = app.Arr("volumeMounts").Objects()
            .Where(m => m.Str("mountPath") is { Length: > 0 } path && tokenFile.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Str("mountPath")!.Length)
            .FirstOrDefault();
        if (mount is null)
        {
            context.Warnings.Add($"container '{app.Str("name")}' names the token file {tokenFile} but mounts no volume that holds it: the sidecar cannot assume the pod's role");
            return;
        }

        var mounts = context.Sidecar.EnsureArr("volumeMounts");
        if (mounts.Objects().Any(m => m.Str("mountPath") == mount.Str("mountPath")))
        {
            return;
        }

        var copy = new JsonObject { ["name"] = mount.Str("name"), ["mountPath"] = mount.Str("mountPath"), ["readOnly"] = true };
        if (mount.Str("subPath") is { } subPath)
        {
            copy["subPath"] = subPath;
        }

        mounts.Add(copy);
    }

    /// <summary>
    /// The mechanism's env entries with a literal value (the webhooks write literals; valueFrom entries are not copied).
    /// Only those names are kept: an app container may carry thousands of variables, and admission runs on every pod.
    /// </summary>
    private static Dictionary<string, string> PlainValues(JsonObject container, string[] required, string[] companions)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in container.Arr("env").Objects())
        {
            if (entry.Str("name") is { } name && (required.Contains(name) || companions.Contains(name)) && entry.Str("value") is { } value)
            {
                values.TryAdd(name, value);
            }
        }

        return values;
    }
}
