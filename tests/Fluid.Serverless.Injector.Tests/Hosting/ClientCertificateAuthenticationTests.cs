using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Settings;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Hosting;

/// <summary>
/// Server:ClientCaFile: the real webhook on Kestrel with real TLS client certificates. Only a caller whose certificate
/// chains to the configured CA (the API server) may use /mutate; probes without a certificate keep /healthz.
/// </summary>
public sealed class ClientCertificateAuthenticationTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fluid-injector-client-ca", Guid.NewGuid().ToString("N"));
    private readonly X509Certificate2 _apiServerCa = TestCertificates.CreateCertificateAuthority("kube-apiserver-webhook-client-ca");

    public ClientCertificateAuthenticationTests()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(CaFile, _apiServerCa.ExportCertificatePem());
    }

    private string CaFile => Path.Combine(_directory, "client-ca.crt");

    private static readonly JsonObject Pod = (JsonObject)JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"serverless.fluid.io/inject":"true"},
         "annotations":{"serverless.fluid.io/datasets":"imagenet"}},"spec":{"containers":[{"name":"app","image":"python"}]}}
        """)!;

    private async Task<InjectorServer> StartAsync()
    {
        var server = await InjectorServer.StartAsync(settings: new ServerSettings { WatchCluster = false, ClientCaFile = CaFile });
        ClusterStateLoader.LoadYaml(server.Cluster, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: other-team}
            spec:
              mounts: [{mountPoint: "s3://other-team-private/imagenet"}]
            """);
        return server;
    }

    private static StringContent Review() =>
        new(AdmissionReviews.ForPod(Pod, "other-team").ToJsonString(), Encoding.UTF8, "application/json");

    [Fact]
    public async Task Mutate_ClientCertificateFromConfiguredCa_Answered()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient(TestCertificates.IssueClientCertificate(_apiServerCa, "kube-apiserver"));

        using var response = await client.PostAsync("/mutate", Review());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var review = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(review["response"]!["allowed"]!.GetValue<bool>());
        Assert.NotNull(review["response"]!["patch"]);
    }

    [Fact]
    public async Task Mutate_NoClientCertificate_401AndNoDatasetInTheReply_HealthzStillOpen()
    {
        await using var server = await StartAsync();

        using var response = await server.Client.PostAsync("/mutate", Review());
        var body = await response.Content.ReadAsStringAsync();
        using var health = await server.Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("/mutate requires a client certificate signed by a CA in Server:ClientCaFile", JsonNode.Parse(body)!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("other-team-private", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Mutate_ClientCertificateFromAnotherCa_403NamingTheSubject()
    {
        await using var server = await StartAsync();
        var otherCa = TestCertificates.CreateCertificateAuthority("attacker-ca");
        using var client = server.CreateClient(TestCertificates.IssueClientCertificate(otherCa, "curious-pod"));

        using var response = await client.PostAsync("/mutate", Review());
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("client certificate 'CN=curious-pod' does not chain to a CA in Server:ClientCaFile", JsonNode.Parse(body)!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("other-team-private", body, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ClientCaFileWithoutCertificates_FailsAtStartNamingTheSetting()
    {
        var empty = Path.Combine(_directory, "empty.crt");
        File.WriteAllText(empty, "not a certificate\n");

        var exception = Assert.Throws<InvalidOperationException>(() => InjectorHost.Build(["--Server:WatchCluster=false", "--Server:ClientCaFile=" + empty]));

        Assert.Contains($"invalid value '{empty}' for Server:ClientCaFile", exception.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _apiServerCa.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
