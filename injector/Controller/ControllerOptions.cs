namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// The controller in the injector Deployment (section "Controller"; env FLUID_INJECTOR_Controller__Enabled=false turns it
/// off). One replica, elected through a Lease, applies Dataset edits to the running pods that use them.
/// </summary>
internal sealed record ControllerOptions
{
    /// <summary>On by default; off, the injector neither watches pods nor takes the Lease nor writes anything.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Writes (pod patches and Events) per second across all Datasets, and how many may go at once.</summary>
    public double PatchesPerSecond { get; init; } = 10;
    public int PatchBurst { get; init; } = 10;

    /// <summary>The Lease (coordination.k8s.io/v1) the replicas compete for; its namespace defaults to the pod's own
    /// (env POD_NAMESPACE), else the injector namespace.</summary>
    public string LeaseName { get; init; } = "fluid-serverless-injector-controller";
    public string? LeaseNamespace { get; init; }

    /// <summary>This replica's name in the Lease; defaults to the pod name (POD_NAME, else HOSTNAME) plus a random suffix.</summary>
    public string? Identity { get; init; }

    public int LeaseDurationSeconds { get; init; } = 15;
    public int RenewDeadlineSeconds { get; init; } = 10;
    public int RetryPeriodSeconds { get; init; } = 2;

    /// <summary>Write how many running injected pods use each Dataset into its status (<c>status.serverless.pods</c>,
    /// the status subresource). Only for the standalone install, whose Dataset CRD is ours: where Fluid is installed its
    /// controllers own the status, so this stays off (the dataset-crd component turns it on).</summary>
    public bool DatasetStatus { get; init; }

    /// <summary>Every Dataset is reconciled again this often, whatever the watches said.</summary>
    public int ResyncMinutes { get; init; } = 10;

    /// <summary>How often every DataLoad is looked at again (Cron schedules fire, runAfter waits end) whatever the watches said.</summary>
    public int DataLoadTickSeconds { get; init; } = 10;

    /// <summary>Validated at start: a bad value stops the process with a message that names it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(PatchesPerSecond > 0))
        {
            errors.Add($"invalid value '{PatchesPerSecond}' for Controller:PatchesPerSecond: expected a number above 0");
        }

        if (PatchBurst < 1)
        {
            errors.Add($"invalid value '{PatchBurst}' for Controller:PatchBurst: expected 1 or more");
        }

        if (LeaseDurationSeconds <= RenewDeadlineSeconds || RenewDeadlineSeconds <= RetryPeriodSeconds || RetryPeriodSeconds < 1)
        {
            errors.Add($"invalid lease timing {LeaseDurationSeconds}/{RenewDeadlineSeconds}/{RetryPeriodSeconds} for Controller:LeaseDurationSeconds/RenewDeadlineSeconds/RetryPeriodSeconds: expected duration > renew deadline > retry period ≥ 1");
        }

        if (DataLoadTickSeconds < 1)
        {
            errors.Add($"invalid value '{DataLoadTickSeconds}' for Controller:DataLoadTickSeconds: expected 1 or more");
        }

        if (ResyncMinutes < 1)
        {
            errors.Add($"invalid value '{ResyncMinutes}' for Controller:ResyncMinutes: expected 1 or more");
        }

        return errors;
    }
}
