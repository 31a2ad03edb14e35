using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// The two Kestrel listeners: S3 and admin. Requests are routed by the local port of their connection, which
/// Kestrel fills in after binding (so port 0, "any free port", works: tests and the demo use it).
/// </summary>
internal sealed class SidecarListeners
{
    public ListenOptions? S3 { get; set; }
    public ListenOptions? Admin { get; set; }

    /// <summary>The bound S3 port (after start).</summary>
    public int S3Port => S3?.IPEndPoint?.Port ?? 0;

    /// <summary>The bound admin port (after start).</summary>
    public int AdminPort => Admin?.IPEndPoint?.Port ?? 0;

    public bool IsAdminRequest(HttpContext context) => context.Connection.LocalPort == AdminPort;
}
