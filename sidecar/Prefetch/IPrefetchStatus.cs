namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// What /status and /metrics read about prefetch: every job's progress plus the readiness verdict. A snapshot is
/// a copy, safe to format at leisure.
/// </summary>
internal interface IPrefetchStatus
{
    PrefetchStatusSnapshot Snapshot();
}

/// <summary>All jobs (config jobs first, then admin jobs, each by creation) and the readiness gate.</summary>
internal sealed record PrefetchStatusSnapshot(
    IReadOnlyList<PrefetchProgress> Jobs,
    bool WaitForReady,
    bool Ready,
    string ReadinessReason);
