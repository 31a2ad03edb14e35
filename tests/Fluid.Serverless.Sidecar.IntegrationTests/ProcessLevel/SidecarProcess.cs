using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// The real sidecar as a child process, the way a pod runs it: a config file (free loopback ports, a cache directory),
/// <c>--config FILE</c>, ready when the admin port's <c>/readyz</c> answers 200. Builds nothing: it runs the already
/// built <c>sidecar/bin/&lt;Configuration&gt;/net10.0/fluid-sidecar.dll</c>, or the binary named by
/// <c>FLUID_SIDECAR_BINARY</c> (the Native AOT build), so the same tests cover both.
/// Supports <c>kill -9</c>, SIGTERM and a restart on the same cache directory (new ports each start, so a socket in
/// TIME_WAIT never blocks a restart). Stdout/stderr are kept for failure messages.
/// </summary>
public sealed class SidecarProcess : IAsyncDisposable
{
    /// <summary>Env var naming a sidecar binary to test instead of the JIT build (e.g. the Native AOT one).</summary>
    public const string BinaryEnvironmentVariable = "FLUID_SIDECAR_BINARY";

    private const int MaxKeptOutputLines = 4000;
    private static readonly TimeSpan DefaultReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentQueue<string> _output = new();
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly bool _ownsWorkDirectory;
    private readonly Func<SidecarConfig, string> _renderConfig;
    private SidecarConfig _config;
    private Process? _process;

    private SidecarProcess(
        SidecarConfig config,
        string workDirectory,
        bool ownsWorkDirectory,
        IReadOnlyDictionary<string, string> environment,
        Func<SidecarConfig, string>? renderConfig)
    {
        _renderConfig = renderConfig ?? (c => JsonSerializer.Serialize(c, ContractsJsonContext.Default.SidecarConfig));
        _config = config;
        WorkDirectory = workDirectory;
        _ownsWorkDirectory = ownsWorkDirectory;
        _environment = environment;
        ConfigPath = Path.Combine(workDirectory, "sidecar-config.json");
    }

    /// <summary>Holds the config file and (unless the caller chose one) the cache directory.</summary>
    public string WorkDirectory { get; }
    public string ConfigPath { get; }
    public string CacheDirectory => _config.Cache.Directory;
    public SidecarConfig Config => _config;

    /// <summary>http://127.0.0.1:PORT of the S3 endpoint (changes on restart).</summary>
    public Uri S3Endpoint => new($"http://127.0.0.1:{_config.S3.Port}");

    /// <summary>http://127.0.0.1:PORT of the probe listener: /healthz, /readyz, /metrics.</summary>
    public Uri AdminEndpoint => new($"http://127.0.0.1:{_config.Admin.Port}");

    /// <summary>http://127.0.0.1:PORT of the loopback admin API: /status, /prefetch…, /quitquitquit (and the probe paths).</summary>
    public Uri AdminLocalEndpoint => new($"http://127.0.0.1:{_config.Admin.LocalPort}");

    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("The sidecar has not been started.");
    public bool HasExited => _process is null || _process.HasExited;
    public int? ExitCode => _process is { HasExited: true } ? _process.ExitCode : null;

    /// <summary>The program and arguments in use, for messages (which binary was tested matters for AOT runs).</summary>
    public string CommandLine { get; private set; } = "";

    /// <summary>Everything the process printed so far (stdout and stderr interleaved, last lines kept).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>
    /// Writes the config (datasets from <paramref name="config"/>; ports replaced with free loopback ports; cache in a
    /// fresh temp directory unless <paramref name="cacheDirectory"/> is given), starts the sidecar and waits for /readyz.
    /// <paramref name="environment"/> adds env vars for the child (e.g. remote credentials).
    /// <paramref name="renderConfig"/> writes the config file's text from the final config (ports and cache filled in);
    /// by default every field is serialized, a test of hand-written files passes its own.
    /// </summary>
    public static async Task<SidecarProcess> StartAsync(
        SidecarConfig config,
        IReadOnlyDictionary<string, string>? environment = null,
        string? cacheDirectory = null,
        TimeSpan? readyTimeout = null,
        Func<SidecarConfig, string>? renderConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var workDirectory = Directory.CreateTempSubdirectory("fluid-sidecar-test-").FullName;
        var sidecar = new SidecarProcess(
            config with { Cache = config.Cache with { Directory = cacheDirectory ?? Path.Combine(workDirectory, "cache") } },
            workDirectory,
            ownsWorkDirectory: true,
            environment ?? new Dictionary<string, string>(),
            renderConfig);
        try
        {
            await sidecar.LaunchAsync(readyTimeout ?? DefaultReadyTimeout);
            return sidecar;
        }
        catch
        {
            await sidecar.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the process again on the same cache directory (new ports) and waits for /readyz.</summary>
    public async Task RestartAsync(TimeSpan? readyTimeout = null)
    {
        if (!HasExited)
        {
            throw new InvalidOperationException("Restart needs a stopped sidecar: call Kill() or TerminateAsync() first.");
        }

        _output.Enqueue("----- restart -----");
        await LaunchAsync(readyTimeout ?? DefaultReadyTimeout);
    }

    /// <summary>kill -9: no chance to flush or clean up, as when a node dies or the OOM killer strikes.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, as kubelet sends at pod shutdown; returns the exit code, or throws when it does not exit in time.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        var process = _process ?? throw new InvalidOperationException("The sidecar has not been started.");
        if (!process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                UseShellExecute = false,
            })!;
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The sidecar did not exit within {timeout} of SIGTERM.\n{Describe()}");
        }

        return process.ExitCode;
    }

    /// <summary>Waits for the process to exit on its own (e.g. after POST /quitquitquit); throws when it does not in time.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        var process = _process ?? throw new InvalidOperationException("The sidecar has not been started.");
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The sidecar did not exit within {timeout}.\n{Describe()}");
        }

        return process.ExitCode;
    }

    /// <summary>
    /// The program and arguments that run the tested sidecar binary with <paramref name="arguments"/> (for
    /// subcommands such as <c>wait-ready</c>, run with <see cref="CommandRunner"/>).
    /// </summary>
    public static (string Program, IReadOnlyList<string> Arguments) Command(params string[] arguments)
    {
        var startInfo = CreateStartInfo();
        return (startInfo.FileName, [.. startInfo.ArgumentList, .. arguments]);
    }

    /// <summary>A description for assertion messages: command line, exit state and the output so far.</summary>
    public string Describe() =>
        $"sidecar: {CommandLine}\nexited: {HasExited} (code {ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"})\n--- output ---\n{Output}";

    public async ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        _process = null;
        if (_ownsWorkDirectory)
        {
            // The cache may be a FUSE or busy directory in some tests; failing to clean a temp dir is not a test failure.
            await Task.Run(() =>
            {
                try
                {
                    Directory.Delete(WorkDirectory, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            });
        }
    }

    private async Task LaunchAsync(TimeSpan readyTimeout)
    {
        _process?.Dispose();
        _config = _config with
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = FreePort.Next() },
            // Never 0.0.0.0 in tests: nothing here may listen beyond loopback.
            Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = FreePort.Next(), LocalPort = FreePort.Next() },
        };
        Directory.CreateDirectory(_config.Cache.Directory);
        await File.WriteAllTextAsync(ConfigPath, _renderConfig(_config));

        var startInfo = CreateStartInfo();
        startInfo.ArgumentList.Add("--config");
        startInfo.ArgumentList.Add(ConfigPath);
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.UseShellExecute = false;
        startInfo.WorkingDirectory = WorkDirectory;
        foreach (var (name, value) in _environment)
        {
            startInfo.Environment[name] = value;
        }

        CommandLine = $"{startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}";
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await WaitForReadyAsync(process, readyTimeout);
    }

    private async Task WaitForReadyAsync(Process process, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var readyz = new Uri(AdminEndpoint, "/readyz");
        var deadline = Stopwatch.StartNew();
        var lastProblem = "no answer yet";
        while (deadline.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The sidecar exited before it was ready.\n{Describe()}");
            }

            try
            {
                using var response = await http.GetAsync(readyz);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                lastProblem = $"/readyz answered {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                lastProblem = e.Message;
            }
            catch (TaskCanceledException e)
            {
                lastProblem = e.Message;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"The sidecar was not ready within {timeout} ({lastProblem}).\n{Describe()}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > MaxKeptOutputLines && _output.TryDequeue(out _))
        {
        }
    }

    private static ProcessStartInfo CreateStartInfo()
    {
        var binary = Environment.GetEnvironmentVariable(BinaryEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(binary))
        {
            if (!File.Exists(binary))
            {
                throw new FileNotFoundException($"{BinaryEnvironmentVariable}={binary}: no such file (expected the path of a built fluid-sidecar binary).");
            }

            return binary.EndsWith(".dll", StringComparison.Ordinal)
                ? new ProcessStartInfo("dotnet") { ArgumentList = { binary } }
                : new ProcessStartInfo(binary);
        }

        var dll = Path.Combine(RepositoryRoot(), "sidecar", "bin", BuildConfiguration(), "net10.0", "fluid-sidecar.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is missing: build the solution first (bash tests/run.sh does).");
        }

        // Through the muxer rather than the apphost: works wherever `dotnet` is on PATH, whatever DOTNET_ROOT says.
        return new ProcessStartInfo("dotnet") { ArgumentList = { dll } };
    }

    /// <summary>The directory holding Fluid.Serverless.sln, found upwards from the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Fluid.Serverless.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Fluid.Serverless.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Debug or Release: the sidecar is looked up in the configuration the tests were built in.</summary>
    private static string BuildConfiguration() =>
        typeof(SidecarProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
}
