using System.Net;
using System.Net.Sockets;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>Free ports on 127.0.0.1 for the servers the tests start (nothing in the tests listens beyond loopback).</summary>
public static class LoopbackPort
{
    /// <summary>A port the kernel just handed out (released at once; the race with other binders is tiny).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
