using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fluid.Serverless.Injector.Certificates;

/// <summary>PEM material the injector keeps in its Secret: a CA and a serving certificate it signed.</summary>
internal sealed record CertificateBundle(string CaCertificatePem, string CaKeyPem, string CertificatePem, string KeyPem)
{
    public const string CaCertificateKey = "ca.crt";
    public const string CaKeyKey = "ca.key";
    public const string CertificateKey = "tls.crt";
    public const string KeyKey = "tls.key";

    public X509Certificate2 LoadServingCertificate() => X509Certificate2.CreateFromPem(CertificatePem, KeyPem);

    public X509Certificate2 LoadCaCertificate() => X509Certificate2.CreateFromPem(CaCertificatePem);
}

/// <summary>Creates the webhook's own CA and serving certificates (ECDSA P-256). The API server trusts the CA through
/// the MutatingWebhookConfiguration's caBundle; the serving cert names the injector's Service DNS names.</summary>
internal static class CertificateAuthority
{
    public static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);
    public static readonly TimeSpan ServingLifetime = TimeSpan.FromDays(365);

    /// <summary>Serving certificates are renewed when less than this is left.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    public static IReadOnlyList<string> DnsNames(string service, string @namespace) =>
        [service, $"{service}.{@namespace}", $"{service}.{@namespace}.svc", $"{service}.{@namespace}.svc.cluster.local"];

    public static CertificateBundle CreateBundle(string service, string @namespace, DateTimeOffset now)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=fluid-serverless-injector-ca.{@namespace}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.Add(CaLifetime));
        var caPem = ca.ExportCertificatePem();
        var caKeyPem = caKey.ExportPkcs8PrivateKeyPem();
        var (certificatePem, keyPem) = CreateServing(caPem, caKeyPem, service, @namespace, now);
        return new CertificateBundle(caPem, caKeyPem, certificatePem, keyPem);
    }

    public static (string CertificatePem, string KeyPem) CreateServing(string caPem, string caKeyPem, string service, string @namespace, DateTimeOffset now)
    {
        using var ca = X509Certificate2.CreateFromPem(caPem, caKeyPem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={service}.{@namespace}.svc", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in DnsNames(service, @namespace))
        {
            names.AddDnsName(name);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var notAfter = now.Add(ServingLifetime) < ca.NotAfter ? now.Add(ServingLifetime) : new DateTimeOffset(ca.NotAfter);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number
        using var signed = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        return (signed.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Whether the bundle still serves: parses, chains to its CA, names the Service, and is not near expiry.</summary>
    public static bool IsUsable(CertificateBundle bundle, string service, string @namespace, DateTimeOffset now)
    {
        try
        {
            using var ca = bundle.LoadCaCertificate();
            using var serving = bundle.LoadServingCertificate();
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = now.UtcDateTime;
            var names = serving.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames()).ToHashSet(StringComparer.Ordinal);
            return chain.Build(serving)
                && DnsNames(service, @namespace).All(names.Contains)
                && serving.NotAfter.ToUniversalTime() - now.UtcDateTime > RenewBefore;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public static bool IsCaUsable(CertificateBundle bundle, DateTimeOffset now)
    {
        try
        {
            using var ca = X509Certificate2.CreateFromPem(bundle.CaCertificatePem, bundle.CaKeyPem);
            return ca.NotAfter.ToUniversalTime() - now.UtcDateTime > RenewBefore + ServingLifetime / 12;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
