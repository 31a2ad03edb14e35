using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Injector.Json;

/// <summary>
/// An RFC 6901 pointer under construction during a tree walk: a stack of segments (object keys and array indices)
/// that is written out as a string only when asked, so walking unchanged nodes costs no string.
/// </summary>
internal sealed class JsonPointerPath
{
    private readonly List<(string? Key, int Index)> _segments = [];

    public void Push(string key) => _segments.Add((key, -1));

    public void Push(int index) => _segments.Add((null, index));

    public void Pop() => _segments.RemoveAt(_segments.Count - 1);

    /// <summary>True when the path is exactly these object keys.</summary>
    public bool Is(string[] keys)
    {
        if (keys.Length != _segments.Count)
        {
            return false;
        }

        for (var i = 0; i < keys.Length; i++)
        {
            if (!string.Equals(_segments[i].Key, keys[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => Write(new StringBuilder()).ToString();

    /// <summary>The pointer of the array element <paramref name="index"/> under this path.</summary>
    public string ToString(int index) => Write(new StringBuilder()).Append('/').Append(index.ToString(CultureInfo.InvariantCulture)).ToString();

    private StringBuilder Write(StringBuilder builder)
    {
        foreach (var (key, index) in _segments)
        {
            builder.Append('/');
            if (key is null)
            {
                builder.Append(index.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(JsonPointer.Escape(key));
            }
        }

        return builder;
    }
}
