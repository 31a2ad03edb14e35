using System.Globalization;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// s3rver 3.7.1 (npm, pinned by tests/node/package-lock.json) as a second S3-compatible remote. Its suffix ranges
/// (bytes=-n) are wrong, so tests never use it as a reference for ranges.
/// </summary>
public sealed class S3rverFixture : S3RemoteFixture
{
    private string? dataDirectory;

    public override string AccessKey => "S3RVER";

    public override string SecretKey => "S3RVER";

    protected override async Task<ServerProcess> StartAsync(int port)
    {
        var nodeDirectory = Path.Join(RepositoryPaths.Root, "tests", "node");
        var script = Path.Join(nodeDirectory, "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"s3rver is not installed ({script} is missing). Run: npm ci --prefix tests/node");
        }

        dataDirectory = Directory.CreateTempSubdirectory("s3rver-").FullName;
        var server = ServerProcess.Start(
            "node",
            ["--openssl-legacy-provider", script, "-d", dataDirectory, "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "--silent"],
            "Install Node.js (Debian: apt-get install -y nodejs npm), then run: npm ci --prefix tests/node");
        await server.WaitForPortAsync("s3rver", port, TimeSpan.FromSeconds(30));
        return server;
    }

    protected override Task CleanupAsync()
    {
        if (dataDirectory is not null)
        {
            Directory.Delete(dataDirectory, recursive: true);
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class S3rverCollection : ICollectionFixture<S3rverFixture>
{
    public const string Name = "s3rver";
}
