using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Certificates;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Tests.Testing;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Injector.Tests.Certificates;

/// <summary>Self-managed CA, Secret and caBundle against <see cref="FakeApiServer"/>, a small FAKE API server (no real
/// Kubernetes API server runs here) that honours create-409 and update-on-stale-resourceVersion-409.</summary>
public sealed class SelfManagedCertificatesTests
{
    private const string Namespace = "fluid-serverless-system";
    private static readonly ServerSettings Server = new() { ServiceName = "fluid-injector", SecretName = "fluid-injector-certs", WebhookConfigurationName = "fluid-serverless-injector" };

    [Fact]
    public async Task ReplicasRacing_OneSecretWinsAndBothServeIt_CaBundleSyncedOnEveryWebhook()
    {
        await using var api = await StartApiAsync();
        var (first, firstStore) = Replica(api, TimeProvider.System);
        var (second, secondStore) = Replica(api, TimeProvider.System);

        await Task.WhenAll(first.ReconcileAsync(CancellationToken.None), second.ReconcileAsync(CancellationToken.None));

        var secret = api.Get("secrets", Namespace, Server.SecretName)!;
        var servingPem = Decode(secret, "tls.crt");
        var caPem = Decode(secret, "ca.crt");
        var served = X509Certificate2.CreateFromPem(servingPem);
        Assert.Equal(served.Thumbprint, firstStore.Current!.Thumbprint);
        Assert.Equal(served.Thumbprint, secondStore.Current!.Thumbprint);
        Assert.Contains("fluid-injector.fluid-serverless-system.svc", served.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        AssertChainsTo(served, caPem);
        var webhooks = api.Get("mutatingwebhookconfigurations", "", Server.WebhookConfigurationName)!["webhooks"]!.AsArray();
        Assert.All(webhooks, w => Assert.Equal(Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem)), w!["clientConfig"]!["caBundle"]!.GetValue<string>()));
    }

    [Fact]
    public async Task CaBundleResetByRedeploy_NextReconcileRestoresIt()
    {
        await using var api = await StartApiAsync();
        var (replica, _) = Replica(api, TimeProvider.System);
        var bundle = await replica.ReconcileAsync(CancellationToken.None);
        var configuration = api.Get("mutatingwebhookconfigurations", "", Server.WebhookConfigurationName)!;
        configuration["webhooks"]![1]!["clientConfig"]!["caBundle"] = Convert.ToBase64String("stale"u8.ToArray());
        api.Upsert("mutatingwebhookconfigurations", configuration);

        await replica.ReconcileAsync(CancellationToken.None);

        var webhooks = api.Get("mutatingwebhookconfigurations", "", Server.WebhookConfigurationName)!["webhooks"]!.AsArray();
        Assert.Equal(Convert.ToBase64String(Encoding.ASCII.GetBytes(bundle.CaCertificatePem)), webhooks[1]!["clientConfig"]!["caBundle"]!.GetValue<string>());
    }

    [Fact]
    public async Task ServingCertificateNearExpiry_RenewedUnderSameCa()
    {
        await using var api = await StartApiAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (replica, store) = Replica(api, clock);
        var original = await replica.ReconcileAsync(CancellationToken.None);
        var originalThumbprint = store.Current!.Thumbprint;

        clock.Advance(TimeSpan.FromDays(340)); // 25 days left: inside the 30-day renewal window
        var renewed = await replica.ReconcileAsync(CancellationToken.None);

        Assert.Equal(original.CaCertificatePem, renewed.CaCertificatePem);
        Assert.NotEqual(originalThumbprint, store.Current!.Thumbprint);
        Assert.Equal(renewed.CertificatePem, Decode(api.Get("secrets", Namespace, Server.SecretName)!, "tls.crt"));
    }

    [Fact]
    public async Task Host_SelfManagedMode_ServesCertificateIssuedByItsCa()
    {
        await using var api = await StartApiAsync();
        await using var server = await InjectorServer.StartAsync(
            settings: Server with { CertificateMode = "self-managed", WatchCluster = true, ApiServerUrl = api.Url.ToString().TrimEnd('/') },
            trust: certificate => api.Get("secrets", Namespace, Server.SecretName) is { } secret && ChainsTo(certificate, Decode(secret, "ca.crt")));

        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status = 0;
        while (DateTime.UtcNow < deadline && status != HttpStatusCode.OK)
        {
            try
            {
                using var response = await server.Client.GetAsync("/readyz");
                status = response.StatusCode;
            }
            catch (HttpRequestException)
            {
                // no certificate yet: the handshake fails until the first reconcile
            }

            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("fluid-injector.fluid-serverless-system.svc", server.LastPresentedCertificate!.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
    }

    private static async Task<FakeApiServer> StartApiAsync()
    {
        var api = await FakeApiServer.StartAsync();
        api.Upsert("mutatingwebhookconfigurations", (JsonObject)JsonNode.Parse("""
            {"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration","metadata":{"name":"fluid-serverless-injector"},
             "webhooks":[{"name":"pods.serverless.fluid.io","clientConfig":{"service":{"name":"fluid-injector","namespace":"fluid-serverless-system","path":"/mutate"}},"admissionReviewVersions":["v1"],"sideEffects":"None"},
                         {"name":"pods-ns.serverless.fluid.io","clientConfig":{"service":{"name":"fluid-injector","namespace":"fluid-serverless-system","path":"/mutate"}},"admissionReviewVersions":["v1"],"sideEffects":"None"}]}
            """)!);
        return api;
    }

    private static (SelfManagedCertificates Replica, CertificateStore Store) Replica(FakeApiServer api, TimeProvider time)
    {
        var store = new CertificateStore();
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.Url.ToString().TrimEnd('/') });
        return (new SelfManagedCertificates(client, store, Server, new InjectorOptions { InjectorNamespace = Namespace }, time, NullLogger<SelfManagedCertificates>.Instance), store);
    }

    private static string Decode(JsonObject secret, string key) => Encoding.ASCII.GetString(Convert.FromBase64String(secret["data"]![key]!.GetValue<string>()));

    private static void AssertChainsTo(X509Certificate2 certificate, string caPem) => Assert.True(ChainsTo(certificate, caPem));

    private static bool ChainsTo(X509Certificate2 certificate, string caPem)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(caPem));
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
