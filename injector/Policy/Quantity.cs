using System.Globalization;
using System.Text.RegularExpressions;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>Kubernetes resource quantities ("512Mi", "2G", "100m"), enough to validate them and size a cache.</summary>
internal static partial class Quantity
{
    [GeneratedRegex(@"^(?<number>[0-9]+(\.[0-9]+)?)(?<suffix>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string text) => Pattern().IsMatch(text);

    /// <summary>The quantity in base units, rounded up (bytes for memory and storage).</summary>
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        var number = decimal.Parse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        decimal multiplier = match.Groups["suffix"].Value switch
        {
            "" => 1m,
            "m" => 0.001m,
            "k" => 1e3m,
            "M" => 1e6m,
            "G" => 1e9m,
            "T" => 1e12m,
            "P" => 1e15m,
            "E" => 1e18m,
            "Ki" => 1L << 10,
            "Mi" => 1L << 20,
            "Gi" => 1L << 30,
            "Ti" => 1L << 40,
            "Pi" => 1L << 50,
            _ => 1L << 60,
        };

        try
        {
            bytes = (long)decimal.Ceiling(number * multiplier);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
