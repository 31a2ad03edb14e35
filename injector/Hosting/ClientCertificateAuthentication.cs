using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Fluid.Serverless.Injector.Settings;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Injector.Hosting;

/// <summary>
/// Optional authentication of the API server on /mutate (Server:ClientCaFile): the HTTPS listener asks every client
/// for a certificate, and /mutate answers only callers whose certificate chains to a CA of that file. Without it,
/// any pod that reaches the webhook Service could post a crafted AdmissionReview naming another namespace and read
/// that namespace's Dataset settings in the reply. /healthz, /readyz and /metrics stay open: kubelet probes carry
/// no certificate. The API server presents the certificate configured in its AdmissionConfiguration kubeconfig
/// (manifests/README.md). The file is read at start; a new CA takes effect on restart.
/// </summary>
internal sealed class ClientCertificateAuthentication
{
    private readonly X509Certificate2Collection _authorities;

    private ClientCertificateAuthentication(X509Certificate2Collection authorities, string file)
    {
        _authorities = authorities;
        File = file;
    }

    public string File { get; }

    /// <returns>Null when no CA file is configured (authentication off).</returns>
    public static ClientCertificateAuthentication? FromSettings(ServerSettings server)
    {
        if (server.ClientCaFile is not { Length: > 0 } file)
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(file);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new InvalidOperationException($"invalid value '{file}' for Server:ClientCaFile: expected a readable PEM file of CA certificates ({exception.Message})", exception);
        }

        return authorities.Count == 0
            ? throw new InvalidOperationException($"invalid value '{file}' for Server:ClientCaFile: expected a PEM file holding at least one CA certificate, found none")
            : new ClientCertificateAuthentication(authorities, file);
    }

    /// <summary>True when the certificate chains to one of the configured CAs (no system roots, no revocation
    /// lookup: the API server's client CA is private to the cluster).</summary>
    public bool Accepts(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // TLS client authentication
        return chain.Build(certificate);
    }

    /// <summary>Null when the caller may use /mutate; else the status and message to answer with.</summary>
    public (int Status, string Message)? Refusal(HttpContext context) => context.Connection.ClientCertificate switch
    {
        null => (StatusCodes.Status401Unauthorized, $"/mutate requires a client certificate signed by a CA in Server:ClientCaFile ({File})"),
        var certificate when !Accepts(certificate) => (StatusCodes.Status403Forbidden, $"client certificate '{certificate.Subject}' does not chain to a CA in Server:ClientCaFile ({File})"),
        _ => null,
    };
}
