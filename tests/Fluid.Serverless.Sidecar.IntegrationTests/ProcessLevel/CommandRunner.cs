using System.Diagnostics;
using System.Text;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>Runs a real client program (aws, rclone, s3cmd, python3 …) and returns what it printed.</summary>
public static class CommandRunner
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError, string CommandLine)
    {
        public override string ToString() => $"$ {CommandLine}\nexit {ExitCode}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
    }

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/>; env entries with a null value are removed
    /// from the child's environment (e.g. AWS_CA_BUNDLE for rclone). Kills the program after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<Result> RunAsync(
        string program,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var commandLine = $"{program} {string.Join(' ', startInfo.ArgumentList.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a))}";
        using var process = new Process { StartInfo = startInfo };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{program} could not be started (not installed? tests/run.sh installs the test peers): {e.Message}", e);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{commandLine} did not finish within {timeout ?? TimeSpan.FromMinutes(3)}:\n{stdout}\n{stderr}");
        }

        process.WaitForExit(); // drains the async output readers
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString(), commandLine);
    }

    /// <summary>Like <see cref="RunAsync"/>, but a non-zero exit fails with everything the program printed.</summary>
    public static async Task<Result> RunCheckedAsync(
        string program,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var result = await RunAsync(program, arguments, environment, timeout, workingDirectory);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Command failed:\n{result}");
        }

        return result;
    }
}
