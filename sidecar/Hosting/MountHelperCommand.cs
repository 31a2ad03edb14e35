using Fluid.Serverless.Sidecar.Volume.Fuse;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary><c>fluid-sidecar mount-helper …</c>: the root helper a FUSE sidecar with dropPrivileges starts (see <see cref="MountHelper"/>).</summary>
internal static class MountHelperCommand
{
    public const string Name = MountHelper.Name;

    public static int Run(string[] args) => MountHelper.Run(args, Console.In, Console.Out, Console.Error);
}
