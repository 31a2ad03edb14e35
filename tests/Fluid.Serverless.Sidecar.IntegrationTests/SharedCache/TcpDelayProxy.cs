using System.Net;
using System.Net.Sockets;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>
/// A TCP proxy on a loopback port that forwards to <c>127.0.0.1:upstreamPort</c> and, while <see cref="Delay"/> is set,
/// holds every chunk from the engine that long before passing it on: a slow engine without netem.
/// </summary>
internal sealed class TcpDelayProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly int upstreamPort;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;

    public TcpDelayProxy(int upstreamPort)
    {
        this.upstreamPort = upstreamPort;
        listener.Start();
        accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    public TimeSpan Delay { get; set; }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        try
        {
            await accepting;
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }

        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            var client = await listener.AcceptTcpClientAsync(stopping.Token);
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, upstreamPort, stopping.Token);
                var toEngine = CopyAsync(client.GetStream(), upstream.GetStream(), delayed: false);
                var fromEngine = CopyAsync(upstream.GetStream(), client.GetStream(), delayed: true);
                await Task.WhenAny(toEngine, fromEngine);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // Either side went away.
            }
        }
    }

    private async Task CopyAsync(NetworkStream from, NetworkStream to, bool delayed)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, stopping.Token);
                if (read == 0)
                {
                    return;
                }

                if (delayed && Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, stopping.Token);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), stopping.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Either side went away.
        }
    }
}
