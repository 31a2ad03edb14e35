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

    /// <summary>Upload staging (multipart parts for local/NFS datasets, spooled parts) the cache volume holds besides the block cache.</summary>
    public const long UploadStagingBytes = 1L * 1024 * 1024 * 1024;

    /// <summary>FUSE write-back (opt-in): seconds from close to upload.</summary>
    public const int FuseWriteBackDelaySeconds = 5;

    /// <summary>FUSE write-back (opt-in): most bytes closed and waiting for their upload.</summary>
    public const long FuseWriteBackMaxBacklogBytes = 256L * 1024 * 1024;

    private const long MiB = 1024 * 1024;

    /// <summary>
    /// The cache volume's size (its emptyDir <c>sizeLimit</c>) for a block-cache quota and an upload-staging budget:
    /// both, plus headroom for what neither counts (directories, the block index, copy-mode records, file system
    /// rounding) of 2 % of the quota, at least 64 MiB, in whole MiB. Kubelet evicts a pod whose emptyDir grows past
    /// its sizeLimit, so everything the sidecar writes there must stay below it.
    /// </summary>
    public static long CacheVolumeSizeBytes(long quotaBytes, long stagingBytes)
    {
        var headroom = Math.Max(64 * MiB, (quotaBytes / 50 + MiB - 1) / MiB * MiB);
        return (quotaBytes + stagingBytes + MiB - 1) / MiB * MiB + headroom;
    }
    public const long ReadAheadMemoryBytes = 64L * 1024 * 1024;
    public const long FetchSpanBytes = 64L * 1024 * 1024;
    /// <summary>
    /// Parallel ranged GETs a sequential reader keeps in flight (its read-ahead window cut into spans). A remote gives
    /// each stream a bounded rate, so this sets a cold read's speed; 8 because each stream holds one block of the
    /// read-ahead memory budget while it runs. See bench/README.md.
    /// </summary>
    public const int ReadAheadStreams = 8;
    /// <summary>
    /// Longest read-ahead window of a long sequential run: 512 MiB = the 8 streams at the longest span (64 MiB), so a
    /// long cold read's spans grow from 32 to 64 MiB, while a reader who stops early has cost at most what it read
    /// (256 MiB at least, as before).
    /// </summary>
    public const long ReadAheadMaxBytes = 512L * 1024 * 1024;
    public const int MetadataTtlSeconds = 30;
    /// <summary>
    /// Files prefetched in parallel (= concurrent prefetch requests). 32, not aws-cli's 10: many small files cost one
    /// request each, so the request count in flight is what hides the per-request latency; memory is bounded
    /// separately, by bytes. See bench/prefetch/README.md.
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

    /// <summary>
    /// The strict posture's credentials volume (an emptyDir: the sidecar's root file system is read-only): the sidecar
    /// mounts it read-write and writes <see cref="GeneratedCredentialsFile"/>; app containers mount it read-only.
    /// </summary>
    public const string CredentialsDirectory = "/var/run/fluid-serverless/aws";
    public const string GeneratedCredentialsFile = CredentialsDirectory + "/credentials";

    /// <summary>Where the injector mounts the downward-API annotations file in the sidecar.</summary>
    public const string PodInfoDirectory = "/etc/fluid-serverless/podinfo";
    public const string AnnotationsFile = PodInfoDirectory + "/annotations";

    /// <summary>
    /// One shared-tier call: a 4 MiB block from an engine in the same zone takes a few ms; past this the tier is slower
    /// than it is worth and the read goes to the remote instead.
    /// </summary>
    public const int SharedCacheTimeoutMilliseconds = 250;

    /// <summary>A fill lease: long enough for one block from a slow remote, short enough that a dead holder costs little.</summary>
    public const int SharedCacheLeaseMilliseconds = 5_000;

    /// <summary>Blocks waiting to be written to the tier (each holds one block of memory until written).</summary>
    public const int SharedCacheMaxPendingWrites = 16;
}
