using System.Globalization;

namespace Fluid.Serverless.Contracts.Metrics;

/// <summary>
/// The tag values of one series, as a dictionary key that costs no allocation when the values are strings (as the
/// request path passes them). Up to <see cref="MaxLabels"/> tags, which is all either process needs.
/// </summary>
public readonly record struct LabelValues(string? First, string? Second = null, string? Third = null, string? Fourth = null)
{
    public const int MaxLabels = 4;

    public string? this[int index] => index switch { 0 => First, 1 => Second, 2 => Third, _ => Fourth };

    public static LabelValues From(ReadOnlySpan<KeyValuePair<string, object?>> tags) => tags.Length switch
    {
        0 => default,
        1 => new(Text(tags[0].Value)),
        2 => new(Text(tags[0].Value), Text(tags[1].Value)),
        3 => new(Text(tags[0].Value), Text(tags[1].Value), Text(tags[2].Value)),
        _ => new(Text(tags[0].Value), Text(tags[1].Value), Text(tags[2].Value), Text(tags[3].Value)),
    };

    /// <summary>These values with <paramref name="value"/> in place <paramref name="index"/> (a histogram's <c>le</c>).</summary>
    public LabelValues With(int index, string value) => index switch
    {
        0 => new LabelValues(value),
        1 => this with { Second = value },
        2 => this with { Third = value },
        _ => this with { Fourth = value },
    };

    private static string? Text(object? value) => value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture);
}
