using System.Globalization;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// A dataset's options (non-secret options merged with resolved secret options), read with errors that name the
/// dataset, the option and what was expected. Options a source does not know are ignored: Fluid Datasets carry
/// options meant for other runtimes (alluxio.*, fs.*), and rejecting them would break existing Datasets.
/// </summary>
internal sealed class SourceOptions
{
    private readonly IReadOnlyDictionary<string, string> values;
    private readonly IReadOnlySet<string> secretNames;

    /// <param name="secretNames">Options whose values came from secretOptions: errors never show them.</param>
    public SourceOptions(string datasetName, IReadOnlyDictionary<string, string> values, IReadOnlySet<string>? secretNames = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        DatasetName = datasetName;
        this.values = values;
        this.secretNames = secretNames ?? new HashSet<string>(StringComparer.Ordinal);
    }

    public string DatasetName { get; }

    /// <summary>The first of <paramref name="names"/> that is set (aliases, e.g. Fluid's "aws.secretKey"), or null.</summary>
    public string? GetString(params ReadOnlySpan<string> names)
    {
        foreach (var name in names)
        {
            if (values.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }

        return null;
    }

    /// <summary>Options named "prefix.Name" as (Name, value) pairs, e.g. request headers from "header.Authorization".</summary>
    public IReadOnlyList<KeyValuePair<string, string>> WithPrefix(string prefix)
    {
        var found = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in values)
        {
            if (name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.Ordinal))
            {
                found.Add(new(name[prefix.Length..], value));
            }
        }

        return found;
    }

    public bool GetBool(string name, bool defaultValue)
    {
        var text = GetString(name);
        if (text is null)
        {
            return defaultValue;
        }

        return text.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw Invalid(name, text, "true or false"),
        };
    }

    public int GetInt(string name, int defaultValue, int min, int max)
    {
        var text = GetString(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw Invalid(name, text, $"an integer from {min} to {max}");
        }

        return value;
    }

    public double GetDouble(string name, double defaultValue, double min, double max)
    {
        var text = GetString(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= min && value <= max))
        {
            throw Invalid(name, text, $"a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        }

        return value;
    }

    public TimeSpan GetSeconds(string name, TimeSpan defaultValue, double minSeconds, double maxSeconds) =>
        GetString(name) is null ? defaultValue : TimeSpan.FromSeconds(GetDouble(name, 0, minSeconds, maxSeconds));

    /// <summary>
    /// An error about option <paramref name="name"/> that names the dataset and what was expected. A value that came
    /// from secretOptions is not shown (the message reaches logs and /status); the option's name still is.
    /// </summary>
    public ArgumentException Invalid(string name, string value, string expected) =>
        new(IsSecretValue(value)
            ? $"dataset '{DatasetName}': option '{name}' (from secretOptions, value not shown) has an invalid value, expected {expected}"
            : $"dataset '{DatasetName}': option '{name}' has invalid value '{value}', expected {expected}");

    private bool IsSecretValue(string value)
    {
        foreach (var name in secretNames)
        {
            if (values.TryGetValue(name, out var secret) && secret.Length > 0 && (value.Contains(secret.Trim(), StringComparison.Ordinal) || secret.Contains(value, StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }
}
