using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Certificates;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
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

    /// <summary>
    /// Every request a self-managed replica makes (create, renew, caBundle sync) must be allowed by the RBAC the
    /// component grants, read from manifests/components/self-managed-certs/rbac.yaml, with each by-name rule matched
    /// against the object's name: the manifest can be narrowed to get/update/patch by name because nothing lists or
    /// watches.
    /// </summary>
    [Fact]
    public async Task Reconcile_CreateRenewAndSync_UsesOnlyVerbsTheManifestGrantsByName()
    {
        var rules = ManifestRules();
        await using var api = await StartApiAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (replica, _) = Replica(api, clock);
        await replica.ReconcileAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromDays(340));
        await replica.ReconcileAsync(CancellationToken.None);
        var configuration = api.Get("mutatingwebhookconfigurations", "", Server.WebhookConfigurationName)!;
        configuration["webhooks"]![0]!["clientConfig"]!["caBundle"] = Convert.ToBase64String("stale"u8.ToArray());
        api.Upsert("mutatingwebhookconfigurations", configuration);
        await replica.ReconcileAsync(CancellationToken.None);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in api.Requests.ToList())
        {
            var (verb, resource, name) = Classify(request);
            // the manifest's object names are the install's; this test's replica uses its own
            var manifestName = resource == "secrets" ? "fluid-serverless-injector-tls" : resource == "mutatingwebhookconfigurations" ? "fluid-serverless-injector" : name;
            seen.Add($"{verb} {resource}");
            Assert.True(
                rules.Any(r => r.Verbs.Contains(verb) && r.Resources.Contains(resource) && (r.Names.Count == 0 || (name is not null && r.Names.Contains(manifestName!)))),
                $"'{request}' ({verb} {resource} {name}) is not granted by manifests/components/self-managed-certs/rbac.yaml");
        }

        Assert.Contains("create secrets", seen);
        Assert.Contains("update secrets", seen);
        Assert.Contains("patch mutatingwebhookconfigurations", seen);
    }

    private static (string Verb, string Resource, string? Name) Classify(string request)
    {
        var space = request.IndexOf(' ', StringComparison.Ordinal);
        var method = request[..space];
        var path = request[(space + 1)..].Split('?')[0];
        var watch = request.Contains("watch=true", StringComparison.Ordinal) || request.Contains("watch=1", StringComparison.Ordinal);
        var segments = path.Trim('/').Split('/');
        // /api/v1/namespaces/NS/secrets[/NAME] or /apis/GROUP/VERSION/mutatingwebhookconfigurations[/NAME]
        var resourceIndex = Array.FindIndex(segments, s => s is "secrets" or "mutatingwebhookconfigurations");
        Assert.True(resourceIndex >= 0, $"unexpected API request '{request}'");
        var name = resourceIndex + 1 < segments.Length ? segments[resourceIndex + 1] : null;
        var verb = method switch
        {
            "GET" => name is null ? (watch ? "watch" : "list") : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => method,
        };
        return (verb, segments[resourceIndex], name);
    }

    private static List<(HashSet<string> Verbs, HashSet<string> Resources, HashSet<string> Names)> ManifestRules([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var file = Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "..", "manifests", "components", "self-managed-certs", "rbac.yaml");
        var rules = new List<(HashSet<string>, HashSet<string>, HashSet<string>)>();
        foreach (var document in Injector.Json.YamlJson.ParseDocuments(File.ReadAllText(file)).OfType<JsonObject>())
        {
            if (document["kind"]?.GetValue<string>() is not ("Role" or "ClusterRole"))
            {
                continue;
            }

            foreach (var rule in document["rules"]!.AsArray())
            {
                static HashSet<string> Set(JsonNode? node) => [.. (node?.AsArray() ?? []).Select(n => n!.GetValue<string>())];
                rules.Add((Set(rule!["verbs"]), Set(rule["resources"]), Set(rule["resourceNames"])));
            }
        }

        return rules;
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
