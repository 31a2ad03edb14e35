using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// A real <c>moto_server</c> (the machine's pyenv Python) on a free loopback port, as the remote S3 of the
/// process-level and client interop tests. Moto's request recorder is on, so a test can count what reached the remote
/// (<see cref="RecordedRequestsAsync"/>): that is how "a warm cache makes no remote traffic" is checked.
/// Can be stopped and started again on another port (the remote going down, then coming back).
/// </summary>
public sealed class MotoProcess : IAsyncDisposable
{
    public const string AccessKey = "testing";
    public const string SecretKey = "testing";
    public const string Region = "us-east-1";

    private readonly ConcurrentQueue<string> _output = new();
    private readonly string _workDirectory;
    private Process? _process;

    private MotoProcess(string workDirectory) => _workDirectory = workDirectory;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:1");
    public string Output => string.Join('\n', _output);

    /// <summary>The env vars a process needs to talk to this moto (and nothing else from the machine's AWS config).</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string>
    {
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_REGION"] = Region,
        ["AWS_DEFAULT_REGION"] = Region,
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    public static async Task<MotoProcess> StartAsync()
    {
        var moto = new MotoProcess(Directory.CreateTempSubdirectory("fluid-moto-").FullName);
        try
        {
            await moto.LaunchAsync();
            return moto;
        }
        catch
        {
            await moto.DisposeAsync();
            throw;
        }
    }

    /// <summary>An SDK client for seeding buckets (path-style, as every S3-compatible endpoint on an IP needs).</summary>
    public AmazonS3Client CreateClient() => new(
        new BasicAWSCredentials(AccessKey, SecretKey),
        new AmazonS3Config
        {
            ServiceURL = Endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    /// <summary>kill -9: the remote disappears (connections refused from now on).</summary>
    public void Stop()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    /// <summary>Starts recording from now on (clears what was recorded before).</summary>
    public async Task StartRecordingAsync()
    {
        using var http = new HttpClient();
        (await http.PostAsync(new Uri(Endpoint, "/moto-api/recorder/reset-recording"), null)).EnsureSuccessStatusCode();
        (await http.PostAsync(new Uri(Endpoint, "/moto-api/recorder/start-recording"), null)).EnsureSuccessStatusCode();
    }

    /// <summary>Requests moto received since <see cref="StartRecordingAsync"/>: (method, url) pairs.</summary>
    public async Task<IReadOnlyList<(string Method, string Url)>> RecordedRequestsAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(Endpoint, "/moto-api/recorder/download-recording"));
        var requests = new List<(string, string)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var entry = JsonDocument.Parse(line);
            var url = entry.RootElement.GetProperty("url").GetString() ?? "";
            if (url.Contains("/moto-api/", StringComparison.Ordinal))
            {
                continue;
            }

            requests.Add((entry.RootElement.GetProperty("method").GetString() ?? "", url));
        }

        return requests;
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        _process?.Dispose();
        await Task.Run(() =>
        {
            try
            {
                Directory.Delete(_workDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        });
    }

    private async Task LaunchAsync()
    {
        var port = FreePort.Next();
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        var startInfo = new ProcessStartInfo("moto_server", ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _workDirectory,
        };
        startInfo.Environment["MOTO_ENABLE_RECORDING"] = "True";
        startInfo.Environment["MOTO_RECORDER_FILEPATH"] = Path.Combine(_workDirectory, "recording.jsonl");
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("moto_server is not on PATH: tests/run.sh installs it (pyenv Python, moto[server] 5.2.1).", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"moto_server exited with {process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Endpoint, "/moto-api/data.json"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"moto_server did not answer on {Endpoint} within 60 s:\n{Output}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 500 && _output.TryDequeue(out _))
        {
        }
    }
}
