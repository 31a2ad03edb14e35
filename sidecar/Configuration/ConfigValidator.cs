using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// The one validator of a sidecar config, at start-up and on every live reload: the contracts'
/// <see cref="SidecarConfigValidator"/> (shared with the injector) plus the prefetch entries, which only the sidecar
/// knows how to parse. A config with a bad prefetch entry is rejected as a whole instead of starting a job that would fail.
/// </summary>
internal static class ConfigValidator
{
    public static IReadOnlyList<string> Validate(SidecarConfig config)
    {
        var errors = new List<string>(SidecarConfigValidator.Validate(config));
        for (var i = 0; i < config.Datasets.Count; i++)
        {
            foreach (var entry in config.Datasets[i].Prefetch ?? [])
            {
                if (!PrefetchEntry.TryParse(entry, out _, out var error))
                {
                    errors.Add($"datasets[{i}].prefetch: {error}");
                }
            }
        }

        return errors;
    }
}
