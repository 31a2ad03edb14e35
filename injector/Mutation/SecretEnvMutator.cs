using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>Dataset encryptOptions and the shared cache tier's Secret references become sidecar env vars from secretKeyRef (FLUID_SECRET_&lt;DATASET&gt;_&lt;N&gt;, FLUID_SHARED_CACHE_*). Only
/// references are copied: no secret value reaches the patch, the annotations, the app containers or the logs.</summary>
internal sealed class SecretEnvMutator : IPodMutator
{
    public void Mutate(MutationContext context)
    {
        var env = context.Sidecar.EnsureArr("env");
        foreach (var (envName, secret) in context.Plan.Datasets.SelectMany(d => d.SecretEnv).Concat(context.Plan.SharedCacheSecretEnv))
        {
            env.Add(new JsonObject
            {
                ["name"] = envName,
                ["valueFrom"] = new JsonObject
                {
                    ["secretKeyRef"] = new JsonObject { ["name"] = secret.SecretName, ["key"] = secret.SecretKey },
                },
            });
        }
    }
}
