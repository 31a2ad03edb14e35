namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>moto_server (moto 5.2.1 in the machine's pyenv Python) as a remote S3.</summary>
public sealed class MotoServerFixture : S3RemoteFixture
{
    public override string AccessKey => "testing";

    public override string SecretKey => "testing";

    protected override async Task<ServerProcess> StartAsync(int port)
    {
        var server = ServerProcess.Start(
            "moto_server",
            ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            "Install it with: pip install 'moto[server]==5.2.1' (pyenv Python 3.11).");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await server.WaitUntilReadyAsync("moto_server", async () =>
            (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/moto-api/"))).IsSuccessStatusCode, TimeSpan.FromSeconds(60));
        return server;
    }
}

[CollectionDefinition(Name)]
public sealed class MotoCollection : ICollectionFixture<MotoServerFixture>
{
    public const string Name = "moto";
}
