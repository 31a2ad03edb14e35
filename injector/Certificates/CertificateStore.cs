using System.Security.Cryptography.X509Certificates;

namespace Fluid.Serverless.Injector.Certificates;

/// <summary>The serving certificate Kestrel hands out per TLS handshake (via ServerCertificateSelector). Swapping it
/// is one reference write, so a reload never interrupts connections in flight.</summary>
internal sealed class CertificateStore
{
    private X509Certificate2? _current;

    public X509Certificate2? Current => Volatile.Read(ref _current);

    public bool IsLoaded => Current is not null;

    public event Action<X509Certificate2>? Changed;

    public void Set(X509Certificate2 certificate)
    {
        Interlocked.Exchange(ref _current, certificate);
        Changed?.Invoke(certificate);
    }
}
