using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// <c>fluid-sidecar wait-ready [--config FILE] [--timeout SECONDS]</c>: polls the admin port's <c>/readyz</c> until
/// it answers 200 (exit 0) or the timeout passes (exit 1). The injector's legacy (non-native) sidecar runs it as the
/// sidecar container's <c>postStart</c> hook, so kubelet starts the app containers only once the sidecar serves.
/// It runs in the sidecar's container, so it finds the admin port the way the sidecar does (same config sources and
/// env overrides). No ASP.NET host is built: it starts in milliseconds and its first poll is immediate.
/// </summary>
internal static class WaitReadyCommand
{
    public const string Name = "wait-ready";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, IDictionary environment, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        var timeout = DefaultTimeout;
        var configArgs = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--timeout" && i + 1 < args.Count)
            {
                if (!TryParseSeconds(args[++i], out timeout))
                {
                    error.WriteLine($"fluid-sidecar wait-ready: --timeout '{args[i]}' is not a number of seconds: expected a positive number, e.g. --timeout 60");
                    return 2;
                }
            }
            else if (args[i] == "--timeout")
            {
                error.WriteLine("fluid-sidecar wait-ready: --timeout: missing value: expected --timeout SECONDS");
                return 2;
            }
            else
            {
                configArgs.Add(args[i]);
            }
        }

        // --demo picks free ports at random: there is no port to wait for.
        if (configArgs.Contains("--demo"))
        {
            error.WriteLine("fluid-sidecar wait-ready: '--demo' is not an option here: expected [--config FILE] [--timeout SECONDS]");
            return 2;
        }

        var load = SidecarConfigLoader.Load(configArgs, environment);
        if (!load.Succeeded)
        {
            return SidecarHostingExtensions.ReportConfigErrors(load);
        }

        var readyz = ReadyzUri(load.Config!.Admin);
        var (ready, lastProblem) = await PollAsync(readyz, timeout);
        if (ready)
        {
            output.WriteLine($"fluid-sidecar wait-ready: {readyz} is ready");
            return 0;
        }

        error.WriteLine($"fluid-sidecar wait-ready: {readyz} was not ready within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (last: {lastProblem})");
        return 1;
    }

    /// <summary>The admin endpoint as seen from inside the pod: a wildcard bind address is reached on loopback.</summary>
    internal static Uri ReadyzUri(AdminEndpointConfig admin)
    {
        var host = admin.Address switch
        {
            "0.0.0.0" or "" => "127.0.0.1",
            "::" or "[::]" => "[::1]",
            var address when IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 => $"[{address}]",
            var address => address,
        };
        return new Uri($"http://{host}:{admin.Port.ToString(CultureInfo.InvariantCulture)}/readyz");
    }

    private static async Task<(bool Ready, string LastProblem)> PollAsync(Uri readyz, TimeSpan timeout)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = AttemptTimeout };
        var clock = Stopwatch.StartNew();
        var lastProblem = "no answer yet";
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(readyz, HttpCompletionOption.ResponseHeadersRead);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return (true, "");
                }

                lastProblem = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                lastProblem = e.Message;
            }
            catch (TaskCanceledException)
            {
                lastProblem = $"no answer within {AttemptTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return (false, lastProblem);
            }

            await Task.Delay(left < PollInterval ? left : PollInterval);
        }
    }

    private static bool TryParseSeconds(string value, out TimeSpan timeout)
    {
        timeout = default;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > 86_400)
        {
            return false;
        }

        timeout = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
