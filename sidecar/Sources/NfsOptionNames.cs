namespace Fluid.Serverless.Sidecar.Sources;

internal static class NfsOptionNames
{
    /// <summary>Where the export is mounted in the sidecar, when not at the injector's default place.</summary>
    public const string LocalPath = "localPath";
}
