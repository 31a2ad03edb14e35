namespace Fluid.Serverless.Sidecar.Sources;

internal static class HttpOptionNames
{
    /// <summary>A key relative to the base URL of a file listing the objects, one "key[\tsize]" per line.</summary>
    public const string Listing = "listing";

    /// <summary>The objects, inline: keys separated by commas or newlines.</summary>
    public const string Files = "files";

    /// <summary>"header.Name" options become request headers (e.g. a secret "header.Authorization").</summary>
    public const string HeaderPrefix = "header.";
}
