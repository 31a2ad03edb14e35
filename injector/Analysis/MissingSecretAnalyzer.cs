using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// Secrets (and keys) that a Dataset in use names in its encryptOptions. The injector gives them to the sidecar as
/// secretKeyRef env, so a missing Secret or key keeps the sidecar, and with it the pod, from starting
/// (CreateContainerConfigError), which admission cannot see.
/// </summary>
internal sealed class MissingSecretAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var used = snapshot.LivePods()
            .SelectMany(p => snapshot.ReferencedDatasets(p).Select(d => (Namespace: ClusterSnapshot.NamespaceOf(p), Name: d)))
            .Distinct()
            .Order();
        foreach (var (@namespace, name) in used)
        {
            if (snapshot.State.FindDataset(@namespace, name) is not { } dataset)
            {
                continue;
            }

            var where = new ObjectRef("Dataset", @namespace, name);
            foreach (var secret in dataset.Mounts.SelectMany(m => m.Secrets).DistinctBy(s => (s.SecretName, s.SecretKey)))
            {
                if (!snapshot.Secrets.TryGetValue((@namespace, secret.SecretName), out var found))
                {
                    continue; // not readable with the caller's rights: unknown, not missing
                }

                if (found is null)
                {
                    yield return new Finding(FindingCodes.SecretMissing, Severity.Error, where,
                        $"encryptOption '{secret.OptionName}' names Secret '{secret.SecretName}', which does not exist in namespace '{@namespace}': "
                        + "sidecars of pods that use the Dataset cannot start (CreateContainerConfigError)",
                        $"create Secret {@namespace}/{secret.SecretName} with key '{secret.SecretKey}', or correct the Dataset's encryptOptions");
                }
                else if (!found.StringMap("data").ContainsKey(secret.SecretKey) && !found.StringMap("stringData").ContainsKey(secret.SecretKey))
                {
                    yield return new Finding(FindingCodes.SecretKeyMissing, Severity.Error, where,
                        $"encryptOption '{secret.OptionName}' names key '{secret.SecretKey}' of Secret '{secret.SecretName}', which the Secret does not have: "
                        + "sidecars of pods that use the Dataset cannot start (CreateContainerConfigError)",
                        $"add key '{secret.SecretKey}' to Secret {@namespace}/{secret.SecretName}, or correct the Dataset's encryptOptions");
                }
            }
        }
    }
}
