using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Admin;
using Fluid.Serverless.Sidecar.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>
/// What another pod can reach: the probe listener on the pod IP (here: this machine's non-loopback address, with the
/// listener bound to 0.0.0.0 as the injector configures it) serves /healthz, /readyz and /metrics read-only; /status,
/// /prefetch and /quitquitquit exist only on 127.0.0.1:admin.localPort.
/// </summary>
public sealed class AdminExposureTests : IAsyncLifetime
{
    private TestSidecar _sidecar = null!;
    private IPAddress _podIp = null!;

    public async Task InitializeAsync()
    {
        _podIp = NonLoopbackAddress();
        _sidecar = await TestSidecar.StartAsync(adminAddress: "0.0.0.0");
    }

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    [Fact]
    public async Task FromThePodNetwork_ProbesAndMetricsAnswer_StatusPrefetchAndQuitDoNot()
    {
        using var remote = new HttpClient { BaseAddress = new Uri($"http://{_podIp}:{_sidecar.AdminPort}") };
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
        {
            using var ok = await remote.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var status = await remote.GetAsync("/status"))
        {
            Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
            var text = await status.Content.ReadAsStringAsync();
            Assert.Contains("127.0.0.1 (admin.localPort)", text, StringComparison.Ordinal);
            Assert.DoesNotContain("local://", text, StringComparison.Ordinal);
        }

        using (var list = await remote.GetAsync("/prefetch"))
        {
            Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
        }

        using (var cancel = await remote.DeleteAsync("/prefetch/pf-1"))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, cancel.StatusCode);
        }

        using (var start = await remote.PostAsync("/prefetch", new StringContent("""{"dataset":"data","paths":["/"]}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, start.StatusCode);
        }

        using (var quit = await remote.PostAsync(SidecarDefaults.QuitPath, null))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, quit.StatusCode);
        }

        var lifetime = _sidecar.Services.GetRequiredService<IHostApplicationLifetime>();
        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);

        // The loopback listener is not on the pod IP at all.
        using var tcp = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(_podIp, _sidecar.AdminLocalPort));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // Inside the pod the whole admin API answers.
        using var local = new HttpClient { BaseAddress = _sidecar.AdminLocalEndpoint };
        using var localStatus = await local.GetAsync("/status");
        Assert.Equal(HttpStatusCode.OK, localStatus.StatusCode);
        using var localList = await local.GetAsync("/prefetch");
        Assert.Equal(HttpStatusCode.OK, localList.StatusCode);
    }

    [Fact]
    public async Task ProbeListener_RefusesBodiesAndMutatingMethods()
    {
        using var remote = new HttpClient { BaseAddress = new Uri($"http://{_podIp}:{_sidecar.AdminPort}") };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz") { Content = new ByteArrayContent(new byte[64 * 1024]) };
        using var withBody = await remote.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, withBody.StatusCode);

        using var post = await remote.PostAsync("/healthz", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("GET, HEAD", string.Join(", ", post.Content.Headers.Allow));
    }

    [Fact]
    public async Task ProbeListener_TooManyHeaders_Get431()
    {
        var head = new StringBuilder("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        for (var i = 0; i < ListenerLimits.MaxRequestHeaderCount + 1; i++)
        {
            head.Append("X-H").Append(i).Append(": v\r\n");
        }

        head.Append("Connection: close\r\n\r\n");
        var response = await SendRawAsync(new IPEndPoint(_podIp, _sidecar.AdminPort), head.ToString());
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeListener_ConnectionsOverTheCap_AreClosed_TheS3PortIsNotAffected()
    {
        var endpoint = new IPEndPoint(_podIp, _sidecar.AdminPort);
        var open = new List<TcpClient>();
        try
        {
            // Each connection gets one answered request, so every one of them is counted before the next step.
            for (var i = 0; i < ListenerLimits.ProbeMaxConnections; i++)
            {
                var tcp = new TcpClient();
                open.Add(tcp);
                await tcp.ConnectAsync(endpoint);
                Assert.StartsWith("HTTP/1.1 200 ", await RoundTripAsync(tcp, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), StringComparison.Ordinal);
            }

            using (var over = new TcpClient())
            {
                try
                {
                    await over.ConnectAsync(endpoint);
                    var stream = over.GetStream();
                    await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
                    Assert.Equal(0, await stream.ReadAsync(new byte[256]));
                }
                catch (Exception e) when (e is IOException or SocketException)
                {
                    // a reset is as good as a close: the connection was not served
                }
            }

            using var s3 = _sidecar.CreateHttpClient();
            Assert.Equal(HttpStatusCode.OK, (await s3.GetAsync("/data/hello.txt")).StatusCode);
        }
        finally
        {
            foreach (var tcp in open)
            {
                tcp.Dispose();
            }
        }

        // Once they are gone the listener serves again.
        using var remote = new HttpClient { BaseAddress = new Uri($"http://{_podIp}:{_sidecar.AdminPort}") };
        HttpStatusCode? last = null;
        for (var attempt = 0; attempt < 200 && last != HttpStatusCode.OK; attempt++)
        {
            try
            {
                last = (await remote.GetAsync("/healthz")).StatusCode;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal(HttpStatusCode.OK, last);
    }

    [Theory]
    [InlineData("192.0.2.7", "/status")]
    [InlineData("10.1.2.3", "/quitquitquit")]
    [InlineData("::ffff:10.1.2.3", "/prefetch/pf-1")]
    public async Task LocalAdmin_PeerNotLoopback_Is403_EvenIfTheListenerWereMisbound(string peer, string path)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        var reached = false;

        await AdminEndpoints.LoopbackOnlyAsync(context, _ => { reached = true; return Task.CompletedTask; });

        Assert.False(reached);
        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        var text = Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.Contains("127.0.0.1", text, StringComparison.Ordinal);
        Assert.Contains(path, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task LocalAdmin_LoopbackPeer_IsServed(string peer)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        var reached = false;

        await AdminEndpoints.LoopbackOnlyAsync(context, _ => { reached = true; return Task.CompletedTask; });

        Assert.True(reached);
    }

    private static async Task<string> SendRawAsync(IPEndPoint endpoint, string head)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return Encoding.ASCII.GetString(buffer.ToArray());
    }

    /// <summary>Sends one request and reads until the end of a Content-Length body; the connection stays open.</summary>
    private static async Task<string> RoundTripAsync(TcpClient tcp, string head)
    {
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(buffer);
            Assert.NotEqual(0, n);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var all = text.ToString();
            var end = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                continue;
            }

            var lengthLine = all[..end].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            var length = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (all.Length >= end + 4 + length)
            {
                return all;
            }
        }
    }

    /// <summary>This machine's non-loopback IPv4 address: the stand-in for the pod IP.</summary>
    private static IPAddress NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .First(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
}
