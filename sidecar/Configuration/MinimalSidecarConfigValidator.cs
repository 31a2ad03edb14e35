using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// The checks a live reload cannot do without: what would break serving if applied. Stands in until the contracts'
/// SidecarConfigValidator is in main; the watcher takes the validator as a delegate, so swapping is one line.
/// Each message names the field and what was expected.
/// </summary>
internal static class MinimalSidecarConfigValidator
{
    public static IReadOnlyList<string> Validate(SidecarConfig config)
    {
        var errors = new List<string>();
        if (config.Version != 1)
        {
            errors.Add($"version: {config.Version} is not supported; expected 1");
        }

        if (!DatasetModes.All.Contains(config.Mode))
        {
            errors.Add($"mode: '{config.Mode}' is not one of {string.Join(", ", DatasetModes.All)}");
        }

        CheckPort(errors, "s3.port", config.S3.Port);
        CheckPort(errors, "admin.port", config.Admin.Port);
        if (config.Cache.QuotaBytes <= 0)
        {
            errors.Add($"cache.quotaBytes: {config.Cache.QuotaBytes} must be positive");
        }

        if (config.Cache.BlockSizeBytes <= 0)
        {
            errors.Add($"cache.blockSizeBytes: {config.Cache.BlockSizeBytes} must be positive");
        }

        if (config.Prefetch.Workers is < 1 or > 256)
        {
            errors.Add($"prefetch.workers: {config.Prefetch.Workers} must be between 1 and 256");
        }

        if (config.Prefetch.BandwidthBytesPerSecond < 0)
        {
            errors.Add($"prefetch.bandwidthBytesPerSecond: {config.Prefetch.BandwidthBytesPerSecond} must be 0 (unlimited) or positive");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Datasets.Count; i++)
        {
            var dataset = config.Datasets[i];
            var field = $"datasets[{i}]";
            if (!IsBucketName(dataset.Name))
            {
                errors.Add($"{field}.name: '{dataset.Name}' is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)");
            }
            else if (!names.Add(dataset.Name))
            {
                errors.Add($"{field}.name: '{dataset.Name}' is used by another dataset");
            }

            if (!dataset.Source.Contains("://", StringComparison.Ordinal))
            {
                errors.Add($"{field}.source: '{dataset.Source}' is not a URI; expected e.g. s3://bucket/prefix, https://host/base/ or local:///path");
            }

            foreach (var entry in dataset.Prefetch)
            {
                if (!PrefetchEntry.TryParse(entry, out _, out var error))
                {
                    errors.Add($"{field}.prefetch: {error}");
                }
            }
        }

        return errors;
    }

    private static void CheckPort(List<string> errors, string field, int port)
    {
        if (port is < 0 or > 65535)
        {
            errors.Add($"{field}: {port} is not a TCP port (0-65535)");
        }
    }

    private static bool IsBucketName(string name)
    {
        if (name.Length is < 3 or > 63 || !char.IsAsciiLetterOrDigit(name[0]) || !char.IsAsciiLetterOrDigit(name[^1]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
