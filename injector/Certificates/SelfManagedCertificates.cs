using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Certificates;

/// <summary>
/// Self-managed TLS: keeps a CA + serving certificate in a Secret and the MutatingWebhookConfiguration's caBundle in
/// sync with that CA. Replicas race safely: creation uses create-or-409 (the loser adopts the winner's Secret) and
/// renewal uses update with the read resourceVersion (a 409 means another replica renewed first: re-read and adopt).
/// Reconciles at start and then periodically, so a rotated Secret or a caBundle reset by a redeploy heals itself.
/// </summary>
internal sealed partial class SelfManagedCertificates(
    IKubernetes client,
    CertificateStore store,
    ServerSettings server,
    InjectorOptions options,
    TimeProvider time,
    ILogger<SelfManagedCertificates> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    private string Namespace => options.InjectorNamespace;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // keep serving with the current certificate; try again next round
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ReconcileFailed(logger, exception.Message);
            }

            try
            {
                await Task.Delay(store.IsLoaded ? Interval : TimeSpan.FromSeconds(5), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round: make sure the Secret holds a usable bundle, serve it, and point caBundle at its CA.</summary>
    public async Task<CertificateBundle> ReconcileAsync(CancellationToken cancel)
    {
        var bundle = await EnsureSecretAsync(cancel);
        var serving = bundle.LoadServingCertificate();
        if (store.Current?.Thumbprint != serving.Thumbprint)
        {
            store.Set(serving);
            Log.Serving(logger, serving.Subject, serving.NotAfter);
        }

        await SyncCaBundleAsync(bundle.CaCertificatePem, cancel);
        return bundle;
    }

    private async Task<CertificateBundle> EnsureSecretAsync(CancellationToken cancel)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var now = time.GetUtcNow();
            var secret = await ReadSecretAsync(cancel);
            if (secret is null)
            {
                var created = CertificateAuthority.CreateBundle(server.ServiceName, Namespace, now);
                try
                {
                    await client.CoreV1.CreateNamespacedSecretAsync(ToSecret(created, null), Namespace, cancellationToken: cancel);
                    Log.Created(logger, Namespace, server.SecretName);
                    return created;
                }
                catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
                {
                    continue; // another replica created it first: adopt theirs
                }
            }

            var existing = FromSecret(secret);
            if (existing is not null && CertificateAuthority.IsUsable(existing, server.ServiceName, Namespace, now))
            {
                return existing;
            }

            // renew: keep a healthy CA (the caBundle stays valid for every replica), else start over
            CertificateBundle renewed;
            if (existing is not null && CertificateAuthority.IsCaUsable(existing, now))
            {
                var (certificatePem, keyPem) = CertificateAuthority.CreateServing(existing.CaCertificatePem, existing.CaKeyPem, server.ServiceName, Namespace, now);
                renewed = existing with { CertificatePem = certificatePem, KeyPem = keyPem };
            }
            else
            {
                renewed = CertificateAuthority.CreateBundle(server.ServiceName, Namespace, now);
            }

            try
            {
                await client.CoreV1.ReplaceNamespacedSecretAsync(ToSecret(renewed, secret.Metadata.ResourceVersion), server.SecretName, Namespace, cancellationToken: cancel);
                Log.Renewed(logger, Namespace, server.SecretName);
                return renewed;
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Conflict)
            {
                // another replica renewed first: re-read and adopt
            }
        }

        throw new InvalidOperationException($"could not settle Secret {Namespace}/{server.SecretName} after 5 attempts (constant conflicts)");
    }

    private async Task<V1Secret?> ReadSecretAsync(CancellationToken cancel)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(server.SecretName, Namespace, cancellationToken: cancel);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task SyncCaBundleAsync(string caPem, CancellationToken cancel)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await TrySyncCaBundleAsync(caPem, cancel);
                return;
            }
            catch (HttpOperationException exception) when (attempt < 4 && exception.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity)
            {
                // the resourceVersion test failed: someone (often another replica) changed it meanwhile; re-read
            }
        }
    }

    private async Task TrySyncCaBundleAsync(string caPem, CancellationToken cancel)
    {
        V1MutatingWebhookConfiguration configuration;
        try
        {
            configuration = await client.AdmissionregistrationV1.ReadMutatingWebhookConfigurationAsync(server.WebhookConfigurationName, cancellationToken: cancel);
        }
        catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
        {
            Log.WebhookMissing(logger, server.WebhookConfigurationName);
            return;
        }

        var wanted = Encoding.ASCII.GetBytes(caPem);
        var operations = new JsonArray();
        var webhooks = configuration.Webhooks ?? [];
        for (var i = 0; i < webhooks.Count; i++)
        {
            var current = webhooks[i].ClientConfig?.CaBundle;
            if (current is not null && current.AsSpan().SequenceEqual(wanted))
            {
                continue;
            }

            operations.Add(new JsonObject
            {
                ["op"] = current is null ? "add" : "replace",
                ["path"] = $"/webhooks/{i}/clientConfig/caBundle",
                ["value"] = Convert.ToBase64String(wanted),
            });
        }

        if (operations.Count == 0)
        {
            return;
        }

        // guard against a concurrent edit of the webhook list: the patch fails instead of hitting the wrong index
        operations.Insert(0, new JsonObject { ["op"] = "test", ["path"] = "/metadata/resourceVersion", ["value"] = configuration.Metadata.ResourceVersion });
        await client.AdmissionregistrationV1.PatchMutatingWebhookConfigurationAsync(
            new V1Patch(operations.ToJsonString(), V1Patch.PatchType.JsonPatch), server.WebhookConfigurationName, cancellationToken: cancel);
        Log.CaBundleSynced(logger, server.WebhookConfigurationName, operations.Count - 1);
    }

    private V1Secret ToSecret(CertificateBundle bundle, string? resourceVersion) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Type = "kubernetes.io/tls",
        Metadata = new V1ObjectMeta
        {
            Name = server.SecretName,
            NamespaceProperty = Namespace,
            ResourceVersion = resourceVersion,
            Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = "fluid-serverless-injector" },
        },
        Data = new Dictionary<string, byte[]>
        {
            [CertificateBundle.CaCertificateKey] = Encoding.ASCII.GetBytes(bundle.CaCertificatePem),
            [CertificateBundle.CaKeyKey] = Encoding.ASCII.GetBytes(bundle.CaKeyPem),
            [CertificateBundle.CertificateKey] = Encoding.ASCII.GetBytes(bundle.CertificatePem),
            [CertificateBundle.KeyKey] = Encoding.ASCII.GetBytes(bundle.KeyPem),
        },
    };

    private static CertificateBundle? FromSecret(V1Secret secret)
    {
        string? Read(string key) => secret.Data?.TryGetValue(key, out var value) == true ? Encoding.ASCII.GetString(value) : null;
        return Read(CertificateBundle.CaCertificateKey) is { } ca && Read(CertificateBundle.CaKeyKey) is { } caKey
            && Read(CertificateBundle.CertificateKey) is { } certificate && Read(CertificateBundle.KeyKey) is { } key
            ? new CertificateBundle(ca, caKey, certificate, key)
            : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.CertificatesCreated, LogLevel.Information, "created CA and serving certificate in Secret {Namespace}/{Name}")]
        public static partial void Created(ILogger logger, string @namespace, string name);

        [LoggerMessage(EventIds.CertificateRenewed, LogLevel.Information, "renewed the serving certificate in Secret {Namespace}/{Name}")]
        public static partial void Renewed(ILogger logger, string @namespace, string name);

        [LoggerMessage(EventIds.CertificateServing, LogLevel.Information, "serving certificate {Subject}, valid until {NotAfter:u}")]
        public static partial void Serving(ILogger logger, string subject, DateTime notAfter);

        [LoggerMessage(EventIds.CaBundleSynced, LogLevel.Information, "caBundle of MutatingWebhookConfiguration {Name} updated on {Count} webhooks")]
        public static partial void CaBundleSynced(ILogger logger, string name, int count);

        [LoggerMessage(EventIds.WebhookMissing, LogLevel.Warning, "MutatingWebhookConfiguration {Name} not found; caBundle not synced (yet)")]
        public static partial void WebhookMissing(ILogger logger, string name);

        [LoggerMessage(EventIds.CertificateReconcileFailed, LogLevel.Warning, "certificate reconcile failed, retrying: {Reason}")]
        public static partial void ReconcileFailed(ILogger logger, string reason);
    }
}
