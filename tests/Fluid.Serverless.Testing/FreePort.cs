using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Fluid.Serverless.Testing;

/// <summary>Free ports on 127.0.0.1 for the servers the tests start (nothing in the tests listens beyond loopback).</summary>
internal static class FreePort
{
    // The kernel may hand the same just-released port out twice in a row; a config that takes three ports
    // (S3, probes, local admin) must never get one of them twice.
    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>A port the kernel just handed out and this process has not handed out before (released at once).</summary>
    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (HandedOut.TryAdd(port, true))
            {
                return port;
            }
        }
    }
}
