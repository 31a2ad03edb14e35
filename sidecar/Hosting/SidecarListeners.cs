using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// The three Kestrel listeners: S3 (127.0.0.1), the probe listener (<c>admin.address:admin.port</c>, the pod IP:
/// /healthz, /readyz, /metrics only) and the local admin listener (127.0.0.1:<c>admin.localPort</c>: the whole admin
/// API). Requests are routed by the local port of their connection, which Kestrel fills in after binding (so port 0,
/// "any free port", works: tests and the demo use it).
/// </summary>
internal sealed class SidecarListeners
{
    public ListenOptions? S3 { get; set; }
    public ListenOptions? Admin { get; set; }
    public ListenOptions? AdminLocal { get; set; }

    /// <summary>The bound S3 port (after start).</summary>
    public int S3Port => S3?.IPEndPoint?.Port ?? 0;

    /// <summary>The bound probe/metrics port (after start).</summary>
    public int AdminPort => Admin?.IPEndPoint?.Port ?? 0;

    /// <summary>The bound loopback admin port (after start).</summary>
    public int AdminLocalPort => AdminLocal?.IPEndPoint?.Port ?? 0;

    public bool IsAdminRequest(HttpContext context) => context.Connection.LocalPort == AdminPort;

    public bool IsAdminLocalRequest(HttpContext context) => context.Connection.LocalPort == AdminLocalPort;
}
