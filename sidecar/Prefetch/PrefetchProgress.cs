namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>Job phases, named as Fluid's DataLoad names them where they fit (Loading is DataLoad's Executing).</summary>
internal enum PrefetchPhase
{
    Pending,
    Loading,
    Complete,
    Failed,
    Cancelled,
}

/// <summary>Where a job came from: the sidecar config (gates readiness) or the admin API (never gates).</summary>
internal enum PrefetchOrigin
{
    Config,
    Admin,
}

/// <summary>A file that could not be warmed, with the reason (after retries).</summary>
internal sealed record PrefetchFailure(string Key, string Error);

/// <summary>
/// A point-in-time view of one job for /status, /metrics and the admin API. Totals grow while the plan is still
/// listing (<see cref="TotalsFinal"/> false); <see cref="EtaSeconds"/> is only given once they are final.
/// </summary>
internal sealed record PrefetchProgress
{
    public required string Id { get; init; }
    public required string Dataset { get; init; }
    public required PrefetchOrigin Origin { get; init; }
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>
    /// <see cref="Contracts.PrefetchPlans.IdOf"/> of <see cref="Paths"/>: a job computes it once and passes it in, so a
    /// scrape does not hash every job's entries once per series.
    /// </summary>
    public string PlanId
    {
        get => _planId ?? Contracts.PrefetchPlans.IdOf(Paths);
        init => _planId = value;
    }

    private readonly string? _planId;
    public required PrefetchPhase Phase { get; init; }

    /// <summary>Why the job failed or stopped (quota, failed files, a bad entry); null while all is well.</summary>
    public string? Message { get; init; }

    /// <summary>True when the job stopped because the next file would have pushed the cache over its quota.</summary>
    public bool QuotaReached { get; init; }

    public bool TotalsFinal { get; init; }
    public long FilesTotal { get; init; }
    public long FilesDone { get; init; }
    public long FilesFailed { get; init; }
    public long BytesTotal { get; init; }
    public long BytesDone { get; init; }

    /// <summary>Bytes actually read from the remote (less than <see cref="BytesDone"/> when blocks were cached).</summary>
    public long BytesFetched { get; init; }

    public IReadOnlyList<PrefetchFailure> FailedFiles { get; init; } = [];

    /// <summary>True when more files failed than <see cref="FailedFiles"/> lists.</summary>
    public bool FailedFilesTruncated { get; init; }

    public double ThroughputBytesPerSecond { get; init; }
    public double? EtaSeconds { get; init; }
    public DateTimeOffset CreatedTime { get; init; }
    public DateTimeOffset? StartTime { get; init; }
    public DateTimeOffset? FinishTime { get; init; }
}
