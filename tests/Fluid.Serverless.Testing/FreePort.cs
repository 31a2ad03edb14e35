using System.Net;
using System.Net.Sockets;

namespace Fluid.Serverless.Testing;

/// <summary>Free ports on 127.0.0.1 for the servers the tests start (nothing in the tests listens beyond loopback).</summary>
internal static class FreePort
{
    /// <summary>A port the kernel just handed out (released at once; the race with other binders is tiny).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
