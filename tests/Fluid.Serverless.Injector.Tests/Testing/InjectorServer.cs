using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Tests.Testing;

/// <summary>The real webhook on Kestrel (HTTPS, 127.0.0.1, port 0) with a self-signed certificate generated here,
/// driven by a real HttpClient that trusts exactly the certificate the server presents now.</summary>
internal sealed class InjectorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InjectorServer(WebApplication app, string certificateDirectory, Uri baseAddress, HttpClient client)
    {
        _app = app;
        CertificateDirectory = certificateDirectory;
        BaseAddress = baseAddress;
        Client = client;
    }

    public string CertificateDirectory { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public ClusterState Cluster => _app.Services.GetRequiredService<ClusterState>();
    public IServiceProvider Services => _app.Services;

    /// <summary>The certificate the client saw on its last handshake.</summary>
    public X509Certificate2? LastPresentedCertificate { get; set; }

    /// <param name="trust">Which server certificate the client accepts; default: the one in the server's PEM files.</param>
    /// <param name="controller">The controller's options; default off, so that only tests about it see its API calls.</param>
    public static async Task<InjectorServer> StartAsync(InjectorOptions? options = null, Action<IServiceCollection>? overrides = null, ServerSettings? settings = null, Func<X509Certificate2, bool>? trust = null, ControllerOptions? controller = null)
    {
        var certificateDirectory = Path.Combine(Path.GetTempPath(), "fluid-injector-tests", Guid.NewGuid().ToString("N"));
        TestCertificates.WritePem(TestCertificates.CreateSelfSigned(), certificateDirectory);
        settings ??= new ServerSettings { WatchCluster = false };
        settings = settings with
        {
            ListenAddress = "127.0.0.1",
            Port = 0,
            CertificateFile = Path.Combine(certificateDirectory, "tls.crt"),
            KeyFile = Path.Combine(certificateDirectory, "tls.key"),
            CertificatePollSeconds = 1,
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = InjectorHost.Build(builder, settings, options ?? new InjectorOptions(), overrides, controller ?? new ControllerOptions { Enabled = false });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        InjectorServer? server = null;
        var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    var presented = new X509Certificate2(certificate);
                    server!.LastPresentedCertificate = presented;
                    if (trust is not null)
                    {
                        return trust(presented);
                    }

                    // trust the certificate currently in the server's files: a pinned, test-only trust decision
                    var expected = X509Certificate2.CreateFromPem(File.ReadAllText(settings.CertificateFile));
                    return presented.Thumbprint == expected.Thumbprint;
                },
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri(address) };
        server = new InjectorServer(app, certificateDirectory, new Uri(address), client) { _settings = settings };
        return server;
    }

    private ServerSettings _settings = new();

    /// <summary>Another client of this server that presents <paramref name="clientCertificate"/> in the handshake
    /// and trusts the server certificate in the server's PEM files.</summary>
    public HttpClient CreateClient(X509Certificate2 clientCertificate)
    {
        var expected = X509Certificate2.CreateFromPem(File.ReadAllText(_settings.CertificateFile));
        var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                ClientCertificates = [clientCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && new X509Certificate2(certificate).Thumbprint == expected.Thumbprint,
            },
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress };
    }

    public async Task<HttpResponseMessage> PostAsync(string path, string body, string contentType = "application/json")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await Client.PostAsync(path, content);
    }

    public async Task<JsonObject> ReviewAsync(JsonObject pod, string @namespace, bool dryRun = false, string uid = "uid-1")
    {
        var review = AdmissionReviews.ForPod(pod, @namespace, dryRun, uid);
        using var response = await PostAsync("/mutate", review.ToJsonString());
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"/mutate answered {(int)response.StatusCode}: {text}");
        }

        return (JsonObject)JsonNode.Parse(text)!;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(CertificateDirectory, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory
        }
    }
}

internal static class AdmissionReviews
{
    public static JsonObject ForPod(JsonObject pod, string @namespace, bool dryRun = false, string uid = "uid-1") => new()
    {
        ["apiVersion"] = "admission.k8s.io/v1",
        ["kind"] = "AdmissionReview",
        ["request"] = new JsonObject
        {
            ["uid"] = uid,
            ["kind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = "Pod" },
            ["resource"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["resource"] = "pods" },
            ["requestKind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = "Pod" },
            ["namespace"] = @namespace,
            ["operation"] = "CREATE",
            ["userInfo"] = new JsonObject { ["username"] = "system:serviceaccount:kube-system:replicaset-controller" },
            ["object"] = pod.DeepClone(),
            ["dryRun"] = dryRun,
        },
    };
}
