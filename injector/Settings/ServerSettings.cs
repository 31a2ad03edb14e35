namespace Fluid.Serverless.Injector.Settings;

/// <summary>How the webhook serves (section "Server" of the configuration; env FLUID_INJECTOR_Server__Port=…).</summary>
internal sealed record ServerSettings
{
    public string ListenAddress { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 9443;

    /// <summary>"files": PEM files mounted from a Secret (cert-manager), reloaded on change.
    /// "self-managed": the injector keeps a CA and serving cert in a Secret and the webhook's caBundle in sync.</summary>
    public string CertificateMode { get; init; } = "files";
    public string CertificateFile { get; init; } = "/etc/fluid-injector/tls/tls.crt";
    public string KeyFile { get; init; } = "/etc/fluid-injector/tls/tls.key";
    public int CertificatePollSeconds { get; init; } = 10;

    /// <summary>A PEM file of the CA(s) that sign the API server's webhook client certificate. When set, the listener
    /// requests a client certificate and /mutate refuses callers without one chaining to these CAs.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>Self-managed mode: where the CA and serving cert live and whose caBundle to keep in sync.</summary>
    public string SecretName { get; init; } = "fluid-injector-certs";
    public string ServiceName { get; init; } = "fluid-injector";
    public string WebhookConfigurationName { get; init; } = "fluid-serverless-injector";

    /// <summary>List+watch Datasets, PVCs, Namespaces and InjectionPolicies (off only in tests and offline).</summary>
    public bool WatchCluster { get; init; } = true;

    /// <summary>Without watches: a YAML file of Datasets, PVCs, Namespaces and InjectionPolicies to serve from
    /// (standalone runs, benchmarks, demos).</summary>
    public string? ClusterStateFile { get; init; }

    /// <summary>API server URL; empty = in-cluster config, else the kubeconfig file.</summary>
    public string? ApiServerUrl { get; init; }

    /// <summary>Decide native vs legacy sidecars from the API server's version (≥ 1.29 → native) at start.</summary>
    public bool DetectNativeSidecar { get; init; } = true;
}
