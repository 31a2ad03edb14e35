using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// The webhook configuration exists, and each webhook's caBundle verifies the serving certificate the injector
/// presents (tls.crt of its Secret). A mismatch fails every admission call at the TLS handshake, which the API
/// server reports as "x509: certificate signed by unknown authority", naming neither the injector nor the fix.
/// </summary>
internal sealed class WebhookCaBundleAnalyzer : IAnalyzer
{
    private const string CertificateKey = "tls.crt";

    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var configuration = new ObjectRef("MutatingWebhookConfiguration", "", snapshot.WebhookConfigurationName);
        if (snapshot.WebhookConfiguration is not { } webhooks)
        {
            yield return new Finding(FindingCodes.WebhookMissing, Severity.Error, configuration,
                "the webhook configuration is not installed: no pod is injected",
                "install the injector (kubectl apply -k manifests/), or pass --webhook NAME if it is installed under another name");
            yield break;
        }

        var secret = new ObjectRef("Secret", snapshot.InjectorNamespace, snapshot.TlsSecretName);
        var servingPem = snapshot.TlsSecret is { } tls ? SecretText(tls, CertificateKey) : null;
        if (servingPem is null)
        {
            yield return new Finding(FindingCodes.ServingCertificateMissing, Severity.Warning, secret,
                $"the serving certificate ({CertificateKey} of this Secret) cannot be read, so the caBundle was not checked",
                "pass --injector-namespace and --tls-secret as installed (the injector's Server:SecretName), or run with rights to read that Secret");
            yield break;
        }

        foreach (var webhook in webhooks.Arr("webhooks").Objects())
        {
            var name = webhook.Str("name") ?? "";
            var bundle = webhook.Obj("clientConfig").Str("caBundle");
            var problem = bundle is null
                ? "has no caBundle"
                : Verify(DecodeBase64(bundle), servingPem, snapshot.Now) is { } reason ? $"has a caBundle that does not verify the serving certificate in {secret}: {reason}" : null;
            if (problem is not null)
            {
                yield return new Finding(FindingCodes.CaBundleMismatch, Severity.Error, configuration,
                    $"webhook '{name}' {problem}; the API server cannot call the injector (TLS fails) and, with failurePolicy Fail, refuses every pod the webhook matches",
                    "self-managed certificates: restart the injector, which writes the caBundle at start; cert-manager: check the annotation "
                    + $"cert-manager.io/inject-ca-from; otherwise set clientConfig.caBundle to the base64 of ca.crt in {secret}");
            }
        }
    }

    /// <summary>Null when a certificate of the bundle verifies the serving chain at <paramref name="now"/>, else why not.</summary>
    public static string? Verify(string caBundlePem, string servingPem, DateTimeOffset now)
    {
        var authorities = new X509Certificate2Collection();
        var served = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPem(caBundlePem);
            served.ImportFromPem(servingPem);
        }
        catch (CryptographicException exception)
        {
            return $"not PEM certificates ({exception.Message})";
        }

        if (authorities.Count == 0)
        {
            return "the caBundle holds no certificate";
        }

        if (served.Count == 0)
        {
            return "the Secret holds no certificate";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(served.Skip(1).ToArray());
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (chain.Build(served[0]))
        {
            return null;
        }

        var leaf = served[0];
        var statuses = chain.ChainStatus.Select(s => s.Status).ToHashSet();
        return statuses.Contains(X509ChainStatusFlags.NotTimeValid) && now.UtcDateTime > leaf.NotAfter.ToUniversalTime()
            ? $"the serving certificate {leaf.Subject} expired at {leaf.NotAfter.ToUniversalTime():u}"
            : $"the serving certificate {leaf.Subject} (issuer {leaf.Issuer}) is not signed by the bundle's {string.Join(", ", authorities.Select(a => a.Subject))}";
    }

    private static string? SecretText(JsonObject secret, string key) =>
        secret.Obj("data").Str(key) is { } encoded ? DecodeBase64(encoded) : secret.Obj("stringData").Str(key);

    private static string DecodeBase64(string text)
    {
        try
        {
            return Encoding.ASCII.GetString(Convert.FromBase64String(text));
        }
        catch (FormatException)
        {
            return "";
        }
    }
}
