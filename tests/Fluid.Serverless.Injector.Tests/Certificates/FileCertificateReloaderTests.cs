using System.Net;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Certificates;

public sealed class FileCertificateReloaderTests
{
    [Fact]
    public async Task MountedFilesReplaced_ServerPresentsNewCertificateWithoutRestart()
    {
        await using var server = await InjectorServer.StartAsync();
        using (await server.Client.GetAsync("/healthz")) { }
        var first = server.LastPresentedCertificate!.Thumbprint;

        using var replacement = TestCertificates.CreateSelfSigned("rotated.fluid-injector.test");
        TestCertificates.WritePem(replacement, server.CertificateDirectory);

        // new connections only: wait (bounded) for the reloader, which watches the files and polls every second here
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? presented = null;
        while (DateTime.UtcNow < deadline)
        {
            using var client = NewConnectionClient(server);
            try
            {
                using var response = await client.GetAsync("/healthz");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                presented = server.LastPresentedCertificate!.Thumbprint;
                if (presented == replacement.Thumbprint)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // the client pins the files' certificate; until the server reloads, the handshake fails
            }

            await Task.Delay(200);
        }

        Assert.NotEqual(first, replacement.Thumbprint);
        Assert.Equal(replacement.Thumbprint, presented);
    }

    [Fact]
    public async Task CorruptKeyWritten_PreviousCertificateKeepsServing()
    {
        await using var server = await InjectorServer.StartAsync();
        using (await server.Client.GetAsync("/healthz")) { }
        var original = server.LastPresentedCertificate!.Thumbprint;

        File.WriteAllText(Path.Combine(server.CertificateDirectory, "tls.key"), "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
        await Task.Delay(1500); // past one poll interval, so the reloader has tried the bad pair

        using var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate!.GetCertHashString() == original },
        };
        using var client = new HttpClient(handler) { BaseAddress = server.BaseAddress };
        using var response = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static HttpClient NewConnectionClient(InjectorServer server)
    {
        // InjectorServer's own client keeps its connection alive; a fresh client forces a fresh handshake
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero };
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            var presented = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate!);
            server.LastPresentedCertificate = presented;
            return true;
        };
        return new HttpClient(handler) { BaseAddress = server.BaseAddress };
    }
}
