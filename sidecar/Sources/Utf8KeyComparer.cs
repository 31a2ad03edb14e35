namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Orders strings as S3 orders keys: by their UTF-8 bytes. That equals Unicode code point order, which differs from
/// .NET's ordinal (UTF-16 code unit) order only for characters at or above U+E000 versus surrogate pairs; the first
/// differing code unit is remapped so surrogates sort after U+FFFF, which makes the comparison code point order
/// without decoding.
/// </summary>
internal sealed class Utf8KeyComparer : IComparer<string>
{
    public static readonly Utf8KeyComparer Instance = new();

    private Utf8KeyComparer()
    {
    }

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        return Compare(x.AsSpan(), y.AsSpan());
    }

    public static int Compare(ReadOnlySpan<char> x, ReadOnlySpan<char> y)
    {
        var common = x.CommonPrefixLength(y);
        if (common == x.Length || common == y.Length)
        {
            return x.Length.CompareTo(y.Length);
        }

        return CodePointOrder(x[common]).CompareTo(CodePointOrder(y[common]));
    }

    // Surrogates (D800–DFFF) encode code points above FFFF, so they must sort after E000–FFFF.
    private static int CodePointOrder(char c) => c >= 0xD800 ? (c >= 0xE000 ? c - 0x800 : c + 0x2000) : c;
}
