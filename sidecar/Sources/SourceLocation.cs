using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// A dataset source URI split into scheme, authority (host[:port] or bucket) and path. Parsed by hand rather than
/// with <see cref="Uri"/>: bucket names and local paths must come through exactly as written (no case folding of
/// the authority, no dot-segment removal that would hide a "..").
/// </summary>
internal sealed record SourceLocation(string Original, string Scheme, string Authority, string Path)
{
    /// <summary>The contract's list, so the injector never admits a scheme the sidecar cannot serve (and vice versa).</summary>
    public static IReadOnlyList<string> SupportedSchemes => SidecarConfigValidator.SourceSchemes;

    public static SourceLocation Parse(string datasetName, string source)
    {
        var separator = source.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
        {
            throw new ArgumentException($"dataset '{datasetName}': field 'source' '{source}' is not a URI, expected scheme://…, e.g. s3://bucket/prefix or local:///path");
        }

        var scheme = source[..separator].ToLowerInvariant();
        var rest = source[(separator + 3)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "" : rest[slash..];
        return new SourceLocation(source, scheme, authority, path);
    }
}
