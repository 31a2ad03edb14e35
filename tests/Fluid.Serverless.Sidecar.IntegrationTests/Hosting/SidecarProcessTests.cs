using System.Diagnostics;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>The built sidecar program as a process: a bad config exits with code 2 and a message naming the field.</summary>
public sealed class SidecarProcessTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sidecar-process-tests-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public async Task Start_InvalidConfig_ExitsWithCode2AndNamesTheField()
    {
        var config = Path.Combine(_directory.FullName, "config.json");
        await File.WriteAllTextAsync(config, """{ "datasets": [ { "name": "ok-one", "source": "local:///a" }, { "name": "Bad_Name", "source": "local:///b" } ] }""");

        var (exitCode, stderr) = await RunSidecarAsync("--config", config);

        Assert.Equal(2, exitCode);
        Assert.Contains("datasets[1].name: 'Bad_Name' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_BadPrefetchEntry_ExitsWithCode2AndNamesTheField()
    {
        var config = Path.Combine(_directory.FullName, "prefetch.json");
        await File.WriteAllTextAsync(config, """{ "datasets": [ { "name": "abc", "source": "local:///a", "prefetch": ["../up"] } ] }""");

        var (exitCode, stderr) = await RunSidecarAsync("--config", config);

        Assert.Equal(2, exitCode);
        Assert.Contains("datasets[0].prefetch: invalid prefetch entry '../up'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ConfigFileOverTheSizeCap_ExitsWithCode2()
    {
        var config = Path.Combine(_directory.FullName, "huge.json");
        await File.WriteAllTextAsync(config, "{}" + new string(' ', 1024 * 1024));

        var (exitCode, stderr) = await RunSidecarAsync("--config", config);

        Assert.Equal(2, exitCode);
        Assert.Contains("at most 1048576 expected", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_UnknownOption_ExitsWithCode2()
    {
        var (exitCode, stderr) = await RunSidecarAsync("--frobnicate");

        Assert.Equal(2, exitCode);
        Assert.Contains("'--frobnicate' is not an option", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stderr)> RunSidecarAsync(params string[] args)
    {
        var sidecar = Path.Combine(AppContext.BaseDirectory, "fluid-sidecar.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(sidecar);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("FLUID_SIDECAR_CONFIG_FILE");
        start.Environment.Remove("FLUID_SIDECAR_ANNOTATIONS_FILE");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        return (process.ExitCode, await stderr);
    }
}
