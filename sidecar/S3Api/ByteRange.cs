using System.Globalization;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>How a Range header applies to an object of a given size, with Amazon S3's rules.</summary>
internal enum RangeOutcome
{
    /// <summary>No Range header, or one S3 ignores (bad syntax, several ranges, first &gt; last): 200 with the whole body.</summary>
    WholeObject,

    /// <summary>One satisfiable range: 206 with Content-Range.</summary>
    Partial,

    /// <summary>416 InvalidRange with <c>Content-Range: bytes */size</c>.</summary>
    NotSatisfiable,
}

/// <summary>
/// A single byte range resolved against an object size: <c>a-b</c> (b clamped to size-1), <c>a-</c>, <c>-n</c>
/// (the last n bytes; n larger than the object gives the whole object, still 206). A first byte at or past the end,
/// <c>-0</c>, or any range on an empty object is not satisfiable. Like S3, a header it cannot parse, a multi-range
/// header and a range whose first byte is after its last are ignored (the whole object, 200).
/// </summary>
internal readonly record struct ByteRange(RangeOutcome Outcome, long Offset, long Length)
{
    public long Last => Offset + Length - 1;

    public static ByteRange Resolve(string? header, long size)
    {
        var whole = new ByteRange(RangeOutcome.WholeObject, 0, size);
        if (string.IsNullOrEmpty(header))
        {
            return whole;
        }

        var spec = header.AsSpan().Trim();
        if (!spec.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return whole;
        }

        spec = spec["bytes=".Length..].Trim();
        if (spec.Contains(','))
        {
            return whole;
        }

        var dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return whole;
        }

        var firstText = spec[..dash].Trim();
        var lastText = spec[(dash + 1)..].Trim();
        var notSatisfiable = new ByteRange(RangeOutcome.NotSatisfiable, 0, 0);
        if (firstText.IsEmpty)
        {
            // Suffix range "-n".
            if (!TryParse(lastText, out var suffix))
            {
                return whole;
            }

            if (suffix == 0 || size == 0)
            {
                return notSatisfiable;
            }

            var length = Math.Min(suffix, size);
            return new ByteRange(RangeOutcome.Partial, size - length, length);
        }

        if (!TryParse(firstText, out var first))
        {
            return whole;
        }

        long last;
        if (lastText.IsEmpty)
        {
            last = long.MaxValue;
        }
        else if (!TryParse(lastText, out last))
        {
            return whole;
        }
        else if (last < first)
        {
            return whole;
        }

        if (first >= size)
        {
            return notSatisfiable;
        }

        last = Math.Min(last, size - 1);
        return new ByteRange(RangeOutcome.Partial, first, last - first + 1);
    }

    public string ContentRange(long size) =>
        string.Create(CultureInfo.InvariantCulture, $"bytes {Offset}-{Last}/{size}");

    private static bool TryParse(ReadOnlySpan<char> digits, out long value) =>
        long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
