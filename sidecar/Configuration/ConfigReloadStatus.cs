namespace Fluid.Serverless.Sidecar.Configuration;

/// <summary>
/// What /status shows about live reload, and what /metrics counts: the generation in force (1 = the config the
/// sidecar started with), when it was applied, and the last rejected config's reason. <see cref="ConfigReloadMetrics"/>
/// writes it as fluid_sidecar_config_reloads_total, fluid_sidecar_config_reload_failures_total and
/// fluid_sidecar_config_last_reload_success_timestamp_seconds.
/// </summary>
internal sealed record ConfigReloadStatus
{
    public required string Path { get; init; }
    public required ConfigFileKind Kind { get; init; }
    public long Generation { get; init; }
    public DateTimeOffset? LastAppliedTime { get; init; }
    public long Reloads { get; init; }
    public long ReloadFailures { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset? LastErrorTime { get; init; }
}
