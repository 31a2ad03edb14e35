namespace Fluid.Serverless.Contracts;

/// <summary>Defaults both programs agree on. Ports avoid the common 8080/9000/9090.</summary>
public static class SidecarDefaults
{
    /// <summary>The S3 endpoint, bound to 127.0.0.1 inside the pod.</summary>
    public const int S3Port = 17480;

    /// <summary>Admin port on the pod IP: /healthz, /readyz, /metrics only (probes and scraping), read-only.</summary>
    public const int AdminPort = 17481;

    /// <summary>
    /// Admin port on 127.0.0.1 only: /status, /prefetch…, /quitquitquit (what reveals the config or changes the
    /// sidecar), like Envoy's admin port inside an Istio pod.
    /// </summary>
    public const int AdminLocalPort = 17482;
    public const string AdminLocalAddress = "127.0.0.1";

    public const string S3Address = "127.0.0.1";

    /// <summary>The images' non-root USER (uid and gid), and the default of dropPrivileges.</summary>
    public const int UnprivilegedId = 65532;
    public const string AdminAddress = "0.0.0.0";

    public const int BlockSizeBytes = 4 * 1024 * 1024;
    public const long CacheQuotaBytes = 10L * 1024 * 1024 * 1024;
    public const long MinFreeBytes = 512L * 1024 * 1024;
    public const long ReadAheadMemoryBytes = 64L * 1024 * 1024;
    public const long FetchSpanBytes = 64L * 1024 * 1024;
    /// <summary>
    /// Parallel ranged GETs a sequential reader keeps in flight (its read-ahead window cut into spans). A remote gives
    /// each stream a bounded rate, so this sets a cold read's speed: bench/run.sh (c'), 20 ms per request and 32 MiB/s
    /// per stream, cold 256 MiB: 4 streams 2.30 s, 8 streams 1.34 s, 16 streams 0.89 s. 8: each stream holds one
    /// block of the read-ahead memory budget while it runs.
    /// </summary>
    public const int ReadAheadStreams = 8;
    public const int MetadataTtlSeconds = 30;
    /// <summary>
    /// Files prefetched in parallel (= concurrent prefetch requests). 32, not aws-cli's 10: many small files cost one
    /// request each, so the request count in flight is what hides the per-request latency (bench/prefetch: 8 → 1.15×,
    /// 16 → 0.90×, 32 → 0.66× the time of `aws s3 sync` for 2,000 × 256 KiB); memory is bounded separately, by bytes.
    /// </summary>
    public const int PrefetchWorkers = 32;

    /// <summary>Admin endpoint (POST) that makes the sidecar exit 0: how legacy-sidecar Jobs complete.</summary>
    public const string QuitPath = "/quitquitquit";

    /// <summary>
    /// Where the injector mounts the in-tree nfs volume of an nfs://server/export/path dataset, in the sidecar only
    /// (one directory per dataset, see <see cref="NfsMountPath"/>); the sidecar serves it as a local source.
    /// </summary>
    public const string NfsMountRoot = "/fluid-serverless/nfs";

    /// <summary>The sidecar directory where dataset <paramref name="datasetName"/>'s NFS export is mounted.</summary>
    public static string NfsMountPath(string datasetName) => NfsMountRoot + "/" + datasetName;

    /// <summary>Where the injector mounts the downward-API annotations file in the sidecar.</summary>
    public const string PodInfoDirectory = "/etc/fluid-serverless/podinfo";
    public const string AnnotationsFile = PodInfoDirectory + "/annotations";
}
