using System.Net;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// How the sidecar process ends and how a pod waits for it: SIGTERM while a cold download is in flight,
/// POST /quitquitquit (legacy-sidecar Jobs) and the <c>wait-ready</c> subcommand (the legacy sidecar's postStart hook).
/// The timeouts here only keep a hung process from hanging the suite; speed is measured in bench/footprint.
/// </summary>
public sealed class ShutdownProcessTests : IDisposable
{
    private const string LargeKey = "large/object.bin";
    private const long LargeSize = (48L * 1024 * 1024) + 123;
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(10);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("fluid-shutdown-dataset-").FullName;
    private readonly string _largeHash;

    public ShutdownProcessTests()
    {
        _largeHash = TestDatasets.WriteFiles(_dataDirectory, [(LargeKey, LargeSize)])[LargeKey];
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private SidecarConfig LocalConfig() => new() { Datasets = [new DatasetConfig { Name = "local", Source = $"local://{_dataDirectory}" }] };

    [Fact]
    public async Task Restart_AfterKillLeftAnUploadSpoolFile_TheStartupSweepDeletesIt()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        sidecar.Kill();
        var spool = Path.Combine(sidecar.CacheDirectory, "uploads", "spool");
        Directory.CreateDirectory(spool);
        var leftover = Path.Combine(spool, "5f0c9e1d2b3a4c5d6e7f8091a2b3c4d5");
        await File.WriteAllBytesAsync(leftover, new byte[4096]); // what a killed length-less UploadPart leaves

        await sidecar.RestartAsync();

        // The sweep runs in the background after /readyz; the bound only keeps a broken sweep from hanging the suite.
        var deadline = DateTime.UtcNow + ExitBound;
        while (File.Exists(leftover) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.False(File.Exists(leftover), $"spool leftover still there; sidecar output:\n{sidecar.Output}");
    }

    [Fact]
    public async Task Terminate_DuringColdDownload_ExitsZeroAndRestartServesExactBytes()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        using var http = S3Http.CreateClient();
        using var response = await S3Http.GetAsync(http, sidecar.S3Endpoint, "local", LargeKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync();

        // Take the first MiB, then stop reading: the sidecar is mid-response (and mid cold fill) when SIGTERM comes.
        var head = new byte[1024 * 1024];
        await body.ReadExactlyAsync(head);
        var exitCode = await sidecar.TerminateAsync(ExitBound);

        Assert.True(exitCode == 0, $"SIGTERM during a download should still exit 0.\n{sidecar.Describe()}");
        // The in-flight response either completed or was cut so the client notices (never a short body read as whole).
        var rest = await ReadRestAsync(body, head);
        if (rest.Completed)
        {
            Assert.Equal(_largeHash, rest.Hash);
        }

        // The cache written up to the SIGTERM (blocks filled, fills cut halfway) serves the exact object afterwards.
        await sidecar.RestartAsync();
        Assert.Equal(_largeHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", LargeKey));
        Assert.Equal(_largeHash, await S3Http.Sha256OfObjectAsync(http, sidecar.S3Endpoint, "local", LargeKey));
    }

    [Fact]
    public async Task QuitQuitQuit_Post_ProcessExitsZero()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        using var http = S3Http.CreateClient();

        using var response = await http.PostAsync(new Uri(sidecar.AdminLocalEndpoint, SidecarDefaults.QuitPath), null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var exitCode = await sidecar.WaitForExitAsync(ExitBound);
        Assert.True(exitCode == 0, $"POST {SidecarDefaults.QuitPath} should end the sidecar with 0.\n{sidecar.Describe()}");
    }

    [Fact]
    public async Task WaitReady_SidecarReady_ExitsZero()
    {
        await using var sidecar = await SidecarProcess.StartAsync(LocalConfig());
        var (program, arguments) = SidecarProcess.Command("wait-ready", "--config", sidecar.ConfigPath, "--timeout", "30");

        var result = await CommandRunner.RunAsync(program, arguments, timeout: TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"127.0.0.1:{sidecar.Config.Admin.Port}/readyz is ready", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitReady_NothingListening_ExitsOneNamingTheUrl()
    {
        // Nothing listens there; the admin port comes from the env override, as an operator would move it.
        var port = FreePort.Next();
        var (program, arguments) = SidecarProcess.Command("wait-ready", "--timeout", "1");
        var environment = new Dictionary<string, string?>
        {
            ["FLUID_ADMIN_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [EnvironmentNames.SidecarConfigFile] = null,
            [EnvironmentNames.SidecarAnnotationsFile] = null,
        };

        var result = await CommandRunner.RunAsync(program, arguments, environment, TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"http://127.0.0.1:{port}/readyz was not ready within 1 s", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitReady_BadTimeout_ExitsTwoNamingTheValue()
    {
        var (program, arguments) = SidecarProcess.Command("wait-ready", "--timeout", "soon");

        var result = await CommandRunner.RunAsync(program, arguments, timeout: TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--timeout 'soon' is not a number of seconds", result.StandardError, StringComparison.Ordinal);
    }

    private static async Task<(bool Completed, string Hash)> ReadRestAsync(Stream body, byte[] head)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(head);
        var buffer = new byte[256 * 1024];
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return (false, "");
        }

        return (true, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }
}
