using System.Net;
using System.Text.RegularExpressions;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>
/// The sidecar binary runs with <c>UseSystemResourceKeys</c> (its runtime messages are resource keys such as
/// <c>IO_FileNotFound_FileName</c>); what users read for the common failures must still be sentences: a config file
/// that is missing, unreadable or malformed (exit code 2, stderr), and a remote that cannot be reached (the S3 error).
/// </summary>
public sealed partial class ReadableErrorsProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fluid-readable-errors-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A runtime resource key: words joined by underscores (IO_FileNotFound_FileName, net_http_…).</summary>
    [GeneratedRegex(@"\b(?:IO|net|Arg|Argument|UnauthorizedAccess|InvalidOperation|ObjectDisposed)_\w+")]
    private static partial Regex ResourceKey();

    private async Task<CommandRunner.Result> RunWithConfigAsync(string configPath)
    {
        var (program, arguments) = SidecarProcess.Command("--config", configPath);
        var environment = new Dictionary<string, string?>
        {
            [EnvironmentNames.SidecarConfigFile] = null,
            [EnvironmentNames.SidecarAnnotationsFile] = null,
        };
        return await CommandRunner.RunAsync(program, arguments, environment, TimeSpan.FromMinutes(1));
    }

    private static void AssertReadable(CommandRunner.Result result, string path, string sentence)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        var output = result.StandardError + result.StandardOutput;
        Assert.Contains(path, output, StringComparison.Ordinal);
        Assert.Contains(sentence, output, StringComparison.Ordinal);
        Assert.False(ResourceKey().IsMatch(output), result.ToString());
    }

    [Fact]
    public async Task Start_MissingConfigFile_SaysNoSuchFile()
    {
        var path = Path.Combine(_directory, "sidecar.json");

        var result = await RunWithConfigAsync(path);

        AssertReadable(result, path, "no such file");
    }

    [Fact]
    public async Task Start_UnreadableConfigFile_SaysPermissionDeniedOrDirectory()
    {
        // Root reads any file whatever its mode; a directory in the file's place fails for every user.
        var path = Directory.CreateDirectory(Path.Combine(_directory, "sidecar.json")).FullName;

        var result = await RunWithConfigAsync(path);

        AssertReadable(result, path, "permission denied (or the path is a directory)");
    }

    [Fact]
    public async Task Start_MalformedConfigFile_SaysNotValidJsonWithTheLine()
    {
        var path = Path.Combine(_directory, "sidecar.json");
        await File.WriteAllTextAsync(path, "{\n  \"datasets\": [\n    { \"name\": \"a\", \"source\": \"local:///tmp\" \n");

        var result = await RunWithConfigAsync(path);

        Assert.True(result.ExitCode == 2, result.ToString());
        var output = result.StandardError + result.StandardOutput;
        Assert.Contains(path, output, StringComparison.Ordinal);
        Assert.Matches("(not valid JSON|invalid|expected)", output);
        Assert.False(ResourceKey().IsMatch(output), result.ToString());
        Assert.DoesNotMatch(@"\b[A-Z][a-z]+(?:[A-Z][a-z]+){3,}\b,", output); // a key such as ExpectedSeparatorAfterPropertyNameNotFound,
    }

    [Fact]
    public async Task Get_UnreachableRemote_ServiceUnavailableSaysConnectionRefused()
    {
        var closedPort = FreePort.Next();
        var dataset = TestDatasets.S3("gone", "bucket", new Uri($"http://127.0.0.1:{closedPort}"));
        dataset = dataset with { Options = new Dictionary<string, string>(dataset.Options) { ["retries"] = "0", ["accessKeyId"] = "test", ["secretAccessKey"] = "test" } };
        await using var sidecar = await SidecarProcess.StartAsync(new SidecarConfig { Datasets = [dataset] });
        using var http = new HttpClient { BaseAddress = sidecar.S3Endpoint };

        using var response = await http.GetAsync(new Uri("/gone/some/key.bin", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("connection refused", body, StringComparison.Ordinal);
        Assert.False(ResourceKey().IsMatch(body), body);
    }
}
