using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>Client scripts kept as real files next to the tests (not copied to bin: found from the repository root).</summary>
internal static class InteropScripts
{
    public static string Path(string name) =>
        System.IO.Path.Combine(SidecarProcess.RepositoryRoot(), "tests", "Fluid.Serverless.Sidecar.IntegrationTests", "Interop", "scripts", name);
}
