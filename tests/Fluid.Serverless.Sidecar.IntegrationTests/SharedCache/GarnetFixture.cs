using System.Globalization;
using Fluid.Serverless.Sidecar.Tests.Fixtures;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>
/// Microsoft Garnet (the garnet-server dotnet tool) on a free loopback port: 128 MiB of log memory in 16 MiB pages, so
/// a 4 MiB block fits in one page. tests/run.sh installs the tool under ~/.fluid-tools/garnet; GARNET_SERVER overrides.
/// </summary>
public sealed class GarnetFixture : IAsyncLifetime
{
    private ServerProcess? server;

    public int Port { get; private set; }

    public string Endpoint => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    public static string Executable =>
        Environment.GetEnvironmentVariable("GARNET_SERVER")
        ?? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fluid-tools", "garnet", "garnet-server");

    public async Task InitializeAsync()
    {
        Port = FreePort.Next();
        server = ServerProcess.Start(
            Executable,
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "-m", "128m", "-p", "16m", "-i", "16m"],
            "Install it with: dotnet tool install garnet-server --version 2.2.12 --tool-path ~/.fluid-tools/garnet (tests/run.sh does).");
        await server.WaitForPortAsync("garnet-server", Port, TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class GarnetCollection : ICollectionFixture<GarnetFixture>
{
    public const string Name = "garnet";
}
