using System.Globalization;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>
/// Points the app's S3 clients at the sidecar: AWS SDKs/CLI (AWS_ENDPOINT_URL_S3), TensorFlow (S3_ENDPOINT), fsspec
/// and HuggingFace (FSSPEC_S3_ENDPOINT_URL). An IP literal makes SDKs use path-style. A variable the user set is never
/// overridden. Default posture: pod-local credentials are added only where the container has neither key, envFrom nor an IRSA role
/// (an env entry would silently override a value the user's envFrom supplies). Strict posture: AWS_SHARED_CREDENTIALS_FILE
/// points at the file the sidecar generates, and no key env is added (SDKs prefer env keys over the file); a container
/// that sets AWS_ACCESS_KEY_ID itself gets an admission warning, as its requests will be refused unless it uses the file.
/// </summary>
internal sealed class AppEnvironmentMutator : IPodMutator
{
    public void Mutate(MutationContext context)
    {
        var options = context.Plan.Options;
        var endpoint = "http://127.0.0.1:" + options.S3Port.ToString(CultureInfo.InvariantCulture);
        // a legacy sidecar is a regular container: a Job's pod completes only once it exits too
        var runsToCompletion = !context.Plan.NativeSidecar && context.Spec.Str("restartPolicy") is "Never" or "OnFailure";
        var quitUrl = "http://127.0.0.1:" + options.AdminLocalPort.ToString(CultureInfo.InvariantCulture) + SidecarDefaults.QuitPath;
        foreach (var container in context.DataConsumers())
        {
            var env = container.EnsureArr("env");
            var existing = env.Objects().Select(e => e.Str("name") ?? "").ToHashSet(StringComparer.Ordinal);
            AddIfAbsent(env, existing, EnvironmentNames.AwsEndpointUrlS3, endpoint);
            AddIfAbsent(env, existing, EnvironmentNames.TensorFlowS3Endpoint, endpoint);
            AddIfAbsent(env, existing, EnvironmentNames.FsspecS3EndpointUrl, endpoint);
            if (runsToCompletion && context.Plan.AppContainers.Contains(container.Str("name") ?? ""))
            {
                AddIfAbsent(env, existing, EnvironmentNames.SidecarQuitUrl, quitUrl);
            }

            if (context.Plan.Settings.S3Auth == S3AuthPostures.Strict)
            {
                if (!AddIfAbsent(env, existing, EnvironmentNames.AwsSharedCredentialsFile, SidecarDefaults.GeneratedCredentialsFile))
                {
                    context.Warnings.Add(
                        $"container '{container.Str("name")}' sets {EnvironmentNames.AwsSharedCredentialsFile} itself and the S3 endpoint is strict ({Annotations.S3Auth}: {S3AuthPostures.Strict}): "
                        + $"its requests to the sidecar are refused unless that file holds the pod-local credentials from {SidecarDefaults.GeneratedCredentialsFile}");
                }

                if (existing.Contains(EnvironmentNames.AwsAccessKeyId))
                {
                    context.Warnings.Add(
                        $"container '{container.Str("name")}' sets {EnvironmentNames.AwsAccessKeyId} and the S3 endpoint is strict ({Annotations.S3Auth}: {S3AuthPostures.Strict}): "
                        + $"its requests to the sidecar are refused unless it signs with the pod-local credentials in {SidecarDefaults.GeneratedCredentialsFile} ({EnvironmentNames.AwsSharedCredentialsFile})");
                }

                continue;
            }

            // An IRSA role counts: env keys would override it for every AWS call the app makes, not only the sidecar's.
            var hasCredentials = existing.Contains(EnvironmentNames.AwsAccessKeyId) || existing.Contains(EnvironmentNames.AwsSecretAccessKey)
                || existing.Contains(WebIdentityMutator.AwsRoleArn)
                || container.Arr("envFrom") is { Count: > 0 };
            if (!hasCredentials)
            {
                AddIfAbsent(env, existing, EnvironmentNames.AwsAccessKeyId, options.PodLocalAccessKeyId);
                AddIfAbsent(env, existing, EnvironmentNames.AwsSecretAccessKey, options.PodLocalSecretAccessKey);
            }
        }
    }

    /// <summary>False when the container already sets <paramref name="name"/> (its value stays).</summary>
    private static bool AddIfAbsent(JsonArray env, HashSet<string> existing, string name, string value)
    {
        if (!existing.Add(name))
        {
            return false;
        }

        env.Add(new JsonObject { ["name"] = name, ["value"] = value });
        return true;
    }
}
