namespace Fluid.Serverless.Injector;

/// <summary>
/// Every log event ID of the injector, in one table so that no two messages share one (a log query or an alert keyed
/// on an ID must find one message). Ranges by area; a new message takes the next free number of its area.
/// <c>EventIdsTests</c> fails when two log methods share an ID.
/// </summary>
internal static class EventIds
{
    // Hosting (1-9).
    public const int Starting = 1;

    // Admission (10-19).
    public const int AdmissionFailed = 10;
    public const int AdmissionRejected = 11;

    // Mounted serving certificate (20-29).
    public const int CertificateLoaded = 20;
    public const int CertificateLoadFailed = 21;

    // Self-managed CA and serving certificate (30-39).
    public const int CertificatesCreated = 30;
    public const int CertificateRenewed = 31;
    public const int CertificateServing = 32;
    public const int CaBundleSynced = 33;
    public const int WebhookMissing = 34;
    public const int CertificateReconcileFailed = 35;

    // Watch-backed cluster caches (40-49).
    public const int CacheListed = 40;
    public const int WatchEnded = 41;
    public const int WatchError = 42;
    public const int KindMissing = 43;
    public const int WatchFailed = 44;

    // Controller: leader election and Dataset reconciling (50-59).
    public const int ControllerLeading = 50;
    public const int ControllerStoppedLeading = 51;
    public const int ControllerElectionFailed = 52;
    public const int ControllerReconcilerFailed = 53;
    public const int ControllerPodPatched = 54;
    public const int ControllerRecreateRequired = 55;
    public const int ControllerNotApplied = 56;
    public const int ControllerPassFailed = 57;
    public const int ControllerLeaseReleased = 58;

    // Controller: DataLoads (60-69).
    public const int DataLoadLeftToFluid = 60;
    public const int DataLoadStarted = 61;
    public const int DataLoadFinished = 62;
    public const int DataLoadRejected = 63;
    public const int DataLoadWaiting = 64;
    public const int DataLoadPassFailed = 65;
    public const int DataLoadPodsPatched = 66;
}
