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
            foreach (var secret in dataset.Mounts.SelectMany(m => m.Secrets).GroupBy(s => s.SecretName, StringComparer.Ordinal))
            {
                if (!snapshot.Secrets.TryGetValue((@namespace, secret.Key), out var found))
                {
                    continue; // not readable with the caller's rights: unknown, not missing
                }

                if (found is null)
                {
                    var options = secret.Select(s => $"'{s.OptionName}'").Distinct(StringComparer.Ordinal).ToList();
                    var keys = secret.Select(s => $"'{s.SecretKey}'").Distinct(StringComparer.Ordinal).ToList();
                    yield return new Finding(FindingCodes.SecretMissing, Severity.Error, where,
                        $"encryptOption{(options.Count == 1 ? "" : "s")} {string.Join(", ", options)} name{(options.Count == 1 ? "s" : "")} Secret '{secret.Key}', "
                        + $"which does not exist in namespace '{@namespace}': sidecars of pods that use the Dataset cannot start (CreateContainerConfigError)",
                        $"create Secret {@namespace}/{secret.Key} with key{(keys.Count == 1 ? "" : "s")} {string.Join(", ", keys)}, or correct the Dataset's encryptOptions");
                    continue;
                }

                foreach (var option in secret.DistinctBy(s => s.SecretKey))
                {
                    if (!found.StringMap("data").ContainsKey(option.SecretKey) && !found.StringMap("stringData").ContainsKey(option.SecretKey))
                    {
                        yield return new Finding(FindingCodes.SecretKeyMissing, Severity.Error, where,
                            $"encryptOption '{option.OptionName}' names key '{option.SecretKey}' of Secret '{secret.Key}', which the Secret does not have: "
                            + "sidecars of pods that use the Dataset cannot start (CreateContainerConfigError)",
                            $"add key '{option.SecretKey}' to Secret {@namespace}/{secret.Key}, or correct the Dataset's encryptOptions");
                    }
                }
            }
        }
    }
}
