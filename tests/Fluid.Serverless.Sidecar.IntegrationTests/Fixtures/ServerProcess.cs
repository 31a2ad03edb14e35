using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// A real server the tests start (moto_server, s3rver, nginx): started on 127.0.0.1, waited for until it answers,
/// killed with its whole process tree on dispose. Its output is kept, so a failure to start says why.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private ServerProcess(Process process)
    {
        this.process = process;
    }

    public int Id => process.Id;

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; a missing tool fails with <paramref name="installHint"/>.</summary>
    public static ServerProcess Start(string fileName, IEnumerable<string> arguments, string installHint, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"could not start '{fileName}'");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"'{fileName}' is not installed or not on PATH ({e.Message}). {installHint}", e);
        }

        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Polls <paramref name="isReady"/> until it returns true; fails with the server's output if it exits or times out.</summary>
    public async Task WaitUntilReadyAsync(string name, Func<Task<bool>> isReady, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with code {process.ExitCode} before it was ready. Output:\n{Output}");
            }

            try
            {
                if (await isReady())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (SocketException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"{name} was not ready within {timeout.TotalSeconds} s. Output:\n{Output}");
    }

    /// <summary>Waits until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public Task WaitForPortAsync(string name, int port, TimeSpan timeout) => WaitUntilReadyAsync(name, async () =>
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        return true;
    }, timeout);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (TimeoutException)
        {
            // Killed but slow to reap; nothing more we can do.
        }

        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            // Keep the tail only: enough to explain a failure, bounded for chatty servers.
            if (output.Length > 64 * 1024)
            {
                output.Remove(0, 32 * 1024);
            }

            output.AppendLine(line);
        }
    }
}

internal static class RepositoryPaths
{
    /// <summary>The repository root (the directory holding Fluid.Serverless.sln).</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Join(directory.FullName, "Fluid.Serverless.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Fluid.Serverless.sln above {AppContext.BaseDirectory}");
    }
}
