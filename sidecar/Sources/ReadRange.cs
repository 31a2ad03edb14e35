namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>The argument checks every <see cref="IObjectSource.ReadAsync"/> makes, with one wording for all sources.</summary>
internal static class ReadRange
{
    /// <summary>Throws unless [offset, offset+length) lies within <paramref name="obj"/> (an empty read is always allowed).</summary>
    public static void ThrowIfOutside(RemoteObject obj, long offset, int length)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length > 0 && offset + length > obj.Size)
        {
            throw new ArgumentOutOfRangeException("destination", $"read of {length} bytes at {offset} runs past the end of '{obj.Key}' ({obj.Size} bytes)");
        }
    }
}
