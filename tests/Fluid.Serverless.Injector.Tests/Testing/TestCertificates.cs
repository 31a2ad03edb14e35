using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fluid.Serverless.Injector.Tests.Testing;

/// <summary>Self-signed serving certificates generated per test (no files shipped with the repository).</summary>
internal static class TestCertificates
{
    public static X509Certificate2 CreateSelfSigned(string commonName = "fluid-injector.test")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A CA that can sign (basic constraints CA, key usage keyCertSign), with its private key.</summary>
    public static X509Certificate2 CreateCertificateAuthority(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A TLS client certificate (extended key usage clientAuth) signed by <paramref name="authority"/>, with its key.</summary>
    public static X509Certificate2 IssueClientCertificate(X509Certificate2 authority, string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(12), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        // through PKCS#12 so that SslStream can use the key on every platform
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Writes tls.crt/tls.key as a Secret volume would hold them.</summary>
    public static void WritePem(X509Certificate2 certificate, string directory)
    {
        Directory.CreateDirectory(directory);
        using var key = certificate.GetECDsaPrivateKey()!;
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        // write to temp names and rename, as kubelet's atomic writer does, so the reloader never reads half a file
        File.WriteAllText(Path.Combine(directory, ".tls.crt.tmp"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, ".tls.key.tmp"), keyPem);
        File.Move(Path.Combine(directory, ".tls.key.tmp"), Path.Combine(directory, "tls.key"), overwrite: true);
        File.Move(Path.Combine(directory, ".tls.crt.tmp"), Path.Combine(directory, "tls.crt"), overwrite: true);
    }
}
