using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
using Fluid.Serverless.Injector.Tests.Testing;
using Fluid.Serverless.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Fluid.Serverless.Injector.Tests.Controller;

/// <summary>
/// End to end, timed: edit the Dataset → the controller patches the pod → the annotations file the sidecar reads
/// changes → the sidecar's S3 endpoint serves the new source. Real: the injector (webhook code and controller), the
/// sidecar process (the built binary), moto_server as the remote. Stand-ins, said plainly: <see cref="FakeApiServer"/>
/// for the API server, and a loop here for kubelet that writes the pod's annotations into the downward-API file as
/// kubelet formats it (sorted key="Go-quoted value" lines, replaced atomically) 50 ms after it sees them change, where
/// a real kubelet takes seconds (up to its syncFrequency). It prints the times; it asserts only what the user sees
/// (the new bytes), never a duration.
/// </summary>
public sealed class DatasetEditTimingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Namespace = "ml";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _work = Directory.CreateTempSubdirectory("fluid-edit-timing-").FullName;
    private readonly List<Process> _processes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }

            process.Dispose();
        }

        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task DatasetEdit_ReachesTheSidecarsS3Endpoint_TimesPrinted()
    {
        // the sidecar of the same build configuration as this test assembly (bin/<configuration>/net10.0/)
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var sidecarDll = Path.Combine(RepositoryRoot(), "sidecar", "bin", configuration, "net10.0", "fluid-sidecar.dll");
        Assert.True(File.Exists(sidecarDll), $"{sidecarDll} is missing: build the sidecar first (bash tests/run.sh does)");
        var moto = await StartMotoAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await PutAsync(http, $"{moto}/models", "");
        await PutAsync(http, $"{moto}/models/v1/README.md", "model v1");
        await PutAsync(http, $"{moto}/models/v2/README.md", "model v2");

        var options = new InjectorOptions { S3Port = FreePort.Next(), AdminPort = FreePort.Next(), AdminLocalPort = FreePort.Next() };
        await using var api = await FakeApiServer.StartAsync();
        api.Upsert("namespaces", Parse($$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        api.Upsert("datasets", Dataset("s3://models/v1/", moto));
        var pod = InjectedPod(Dataset("s3://models/v1/", moto), options);
        api.Upsert("pods", pod);
        await using var server = await InjectorServer.StartAsync(options: options, settings: new ServerSettings { WatchCluster = true, ApiServerUrl = api.Url.ToString().TrimEnd('/') },
            controller: new ControllerOptions { Identity = "timing", LeaseNamespace = "fluid-serverless", LeaseDurationSeconds = 3, RenewDeadlineSeconds = 2, RetryPeriodSeconds = 1 });

        // kubelet stand-in: the pod's annotations → the downward-API file
        var annotationsFile = Path.Combine(_work, "podinfo", "annotations");
        Directory.CreateDirectory(Path.GetDirectoryName(annotationsFile)!);
        using var kubeletStop = new CancellationTokenSource();
        var fileWritten = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = new Stopwatch();
        WriteAnnotations(annotationsFile, api.Get("pods", Namespace, "fn-1")!);
        var kubelet = Task.Run(async () =>
        {
            var last = File.ReadAllText(annotationsFile);
            while (!kubeletStop.IsCancellationRequested)
            {
                await Task.Delay(50);
                var text = FormatAnnotations(api.Get("pods", Namespace, "fn-1")!);
                if (text != last)
                {
                    WriteAtomically(annotationsFile, text);
                    last = text;
                    fileWritten.TrySetResult(clock.Elapsed);
                }
            }
        });

        var sidecar = Start("dotnet", [sidecarDll], new Dictionary<string, string>
        {
            [EnvironmentNames.SidecarAnnotationsFile] = annotationsFile,
            ["FLUID_CACHE_DIR"] = Path.Combine(_work, "cache"),
            ["AWS_ACCESS_KEY_ID"] = "testing",
            ["AWS_SECRET_ACCESS_KEY"] = "testing",
            ["AWS_REGION"] = "us-east-1",
            ["AWS_EC2_METADATA_DISABLED"] = "true",
        });
        var readme = new Uri($"http://127.0.0.1:{options.S3Port}/models/README.md");
        await UntilAsync(async () => await TryGetAsync(http, readme) == "model v1", sidecar);
        await UntilAsync(() => Task.FromResult(server.Services.GetRequiredService<ControllerMetrics>().Leading), sidecar);

        clock.Start();
        api.Upsert("datasets", Dataset("s3://models/v2/", moto));
        TimeSpan? patched = null;
        await UntilAsync(() =>
        {
            if (patched is null && (api.Get("pods", Namespace, "fn-1")!.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig) ?? "").Contains("models/v2", StringComparison.Ordinal))
            {
                patched = clock.Elapsed;
            }

            return Task.FromResult(patched is not null);
        }, sidecar);
        var written = await fileWritten.Task.WaitAsync(Patience);
        await UntilAsync(async () => await TryGetAsync(http, readme) == "model v2", sidecar);
        var served = clock.Elapsed;
        await kubeletStop.CancelAsync();
        await kubelet;

        var report = string.Create(CultureInfo.InvariantCulture,
            $"Dataset edit → pod annotation patched: {patched!.Value.TotalMilliseconds:0} ms; → annotations file rewritten (kubelet stand-in, polls every 50 ms): {written.TotalMilliseconds:0} ms; → S3 endpoint serves the new source: {served.TotalMilliseconds:0} ms (sidecar reload: {(served - written).TotalMilliseconds:0} ms). A real kubelet adds its own delay for the file step: usually seconds, at most its syncFrequency (1 m by default).");
        output.WriteLine(report);
        Console.WriteLine("timing: " + report);
        Assert.Equal("model v2", await TryGetAsync(http, readme));
    }

    private static JsonObject Dataset(string mountPoint, string endpoint) => Parse($$$"""
        {"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"models","namespace":"{{{Namespace}}}"},
         "spec":{"mounts":[{"mountPoint":"{{{mountPoint}}}","options":{"endpoint":"{{{endpoint}}}","region":"us-east-1","pathStyle":"true"}}]}}
        """);

    /// <summary>A Knative-style function pod as the webhook admits it (same <see cref="PodInjector"/>): S3 only.</summary>
    private static JsonObject InjectedPod(JsonObject dataset, InjectorOptions options)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, Parse($$$"""{"kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}"""));
        ClusterStateLoader.Apply(cluster, dataset);
        var pod = Parse($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"fn-1","namespace":"{{{Namespace}}}","uid":"uid-fn-1",
             "labels":{"serverless.fluid.io/inject":"true"},"annotations":{"serverless.fluid.io/datasets":"models","serverless.fluid.io/mode":"s3"}},
             "spec":{"containers":[{"name":"app","image":"python"}]}}
            """);
        var outcome = new PodInjector(cluster, options).Inject(pod, Namespace);
        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        return outcome.Pod!;
    }

    private static void WriteAnnotations(string path, JsonObject pod) => WriteAtomically(path, FormatAnnotations(pod));

    /// <summary>kubelet's fieldpath.FormatMap: sorted key="value" lines, values quoted as Go's strconv.Quote does.</summary>
    private static string FormatAnnotations(JsonObject pod) => string.Join("\n", pod.Obj("metadata").StringMap("annotations")
        .OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + "=" + GoQuote(a.Value)));

    private static string GoQuote(string value)
    {
        var builder = new StringBuilder("\"");
        foreach (var c in value)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' or '\x7f' => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => c.ToString(),
            });
        }

        return builder.Append('"').ToString();
    }

    private static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private async Task<string> StartMotoAsync()
    {
        var port = FreePort.Next();
        Start("moto_server", ["-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture)], new Dictionary<string, string>());
        var endpoint = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await UntilAsync(async () =>
        {
            try
            {
                using var response = await http.GetAsync(new Uri(endpoint + "/"));
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, _processes[^1]);
        return endpoint;
    }

    private Process Start(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var startInfo = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"{program} did not start");
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        _logs[process] = log;
        return process;
    }

    private readonly Dictionary<Process, StringBuilder> _logs = [];

    private static async Task PutAsync(HttpClient http, string url, string body)
    {
        using var response = await http.PutAsync(new Uri(url), new StringContent(body));
        Assert.True(response.IsSuccessStatusCode, $"PUT {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<string?> TryGetAsync(HttpClient http, Uri uri)
    {
        try
        {
            using var response = await http.GetAsync(uri);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    private async Task UntilAsync(Func<Task<bool>> condition, Process process)
    {
        // bounded wait for an asynchronous event (a process start, a watch, a reload), not a timing assertion
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            string log;
            lock (_logs[process])
            {
                log = _logs[process].ToString();
            }

            Assert.True(!process.HasExited, $"{process.StartInfo.FileName} exited with {(process.HasExited ? process.ExitCode : 0)}:\n{log}");
            Assert.True(deadline.Elapsed < Patience, $"condition not met within {Patience}; {process.StartInfo.FileName} output:\n{log}");
            await Task.Delay(20);
        }
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", ".."));

    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;
}
