using System.Diagnostics;
using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>redis-server processes on loopback ports (Debian's redis-server, in-memory only: no RDB, no AOF).</summary>
internal static class RedisServers
{
    public const string InstallHint = "Install it with: apt-get install -y redis-server (tests/run.sh does).";

    public static async Task<ServerProcess> StartAsync(int port, string directory, bool cluster, params string[] extraArguments)
    {
        Directory.CreateDirectory(directory);
        var arguments = new List<string>
        {
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", directory,
            "--protected-mode", "no",
            "--maxmemory", "256mb",
            "--maxmemory-policy", "allkeys-lru",
        };
        if (cluster)
        {
            arguments.AddRange(["--cluster-enabled", "yes", "--cluster-config-file", Path.Join(directory, "nodes.conf"), "--cluster-node-timeout", "5000"]);
        }

        arguments.AddRange(extraArguments);
        var server = ServerProcess.Start("redis-server", arguments, InstallHint);
        await server.WaitForPortAsync("redis-server", port, TimeSpan.FromSeconds(30));
        return server;
    }

    /// <summary>Runs redis-cli with <paramref name="arguments"/> and returns its output; a non-zero exit fails with it.</summary>
    public static async Task<string> CliAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start redis-cli");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
        }

        return await output + await error;
    }
}

/// <summary>A 3-master Redis Cluster (no replicas) on free loopback ports, as <c>redis-cli --cluster create</c> makes it.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    private readonly List<ServerProcess> servers = [];
    private readonly string directory = Path.Join(Path.GetTempPath(), "fluid-redis-cluster-" + Guid.NewGuid().ToString("N")[..8]);

    public IReadOnlyList<int> Ports { get; private set; } = [];

    public IReadOnlyList<string> Endpoints => [.. Ports.Select(p => "127.0.0.1:" + p.ToString(CultureInfo.InvariantCulture))];

    public async Task InitializeAsync()
    {
        Ports = [FreePort.Next(), FreePort.Next(), FreePort.Next()];
        foreach (var port in Ports)
        {
            servers.Add(await RedisServers.StartAsync(port, Path.Join(directory, port.ToString(CultureInfo.InvariantCulture)), cluster: true));
        }

        await RedisServers.CliAsync(["--cluster", "create", .. Endpoints, "--cluster-replicas", "0", "--cluster-yes"]);
        var deadline = Stopwatch.StartNew();
        foreach (var port in Ports)
        {
            while (!(await RedisServers.CliAsync("-p", port.ToString(CultureInfo.InvariantCulture), "cluster", "info")).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new InvalidOperationException($"the Redis Cluster on {string.Join(", ", Endpoints)} did not reach cluster_state:ok");
                }

                await Task.Delay(100);
            }
        }
    }

    /// <summary>The node (port) that serves <paramref name="key"/>'s slot now.</summary>
    public async Task<(int Port, int Slot)> OwnerAsync(string key)
    {
        var slot = int.Parse((await RedisServers.CliAsync("-p", Ports[0].ToString(CultureInfo.InvariantCulture), "cluster", "keyslot", key)).Trim(), CultureInfo.InvariantCulture);
        var nodes = await RedisServers.CliAsync("-p", Ports[0].ToString(CultureInfo.InvariantCulture), "cluster", "nodes");
        foreach (var line in nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            var port = int.Parse(fields[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture);
            foreach (var range in fields.Skip(8))
            {
                if (range.StartsWith('['))
                {
                    continue;
                }

                var bounds = range.Split('-');
                var low = int.Parse(bounds[0], CultureInfo.InvariantCulture);
                var high = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : low;
                if (slot >= low && slot <= high)
                {
                    return (port, slot);
                }
            }
        }

        throw new InvalidOperationException($"no node owns slot {slot} of '{key}':\n{nodes}");
    }

    public static async Task<string> NodeIdAsync(int port) =>
        (await RedisServers.CliAsync("-p", port.ToString(CultureInfo.InvariantCulture), "cluster", "myid")).Trim();

    public async Task DisposeAsync()
    {
        foreach (var server in servers)
        {
            await server.DisposeAsync();
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "redis-cluster";
}
