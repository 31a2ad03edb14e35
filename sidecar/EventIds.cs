namespace Fluid.Serverless.Sidecar;

/// <summary>
/// Every log event ID of the sidecar, in one table so that no two messages share one (a log query or an alert keyed
/// on an ID must find one message). Ranges by area; a new message takes the next free number of its area.
/// <c>EventIdsTests</c> fails when two log methods share an ID.
/// </summary>
internal static class EventIds
{
    // Hosting: start-up, listeners, shutdown, memory (1-9, 20-29).
    public const int ConfigLoaded = 1;
    public const int Listening = 2;
    public const int StartFailed = 3;
    public const int ShutdownTimedOut = 4;
    public const int MemoryTrimmed = 20;

    // FUSE volume (10-19).
    public const int FuseMounted = 10;
    public const int FuseUnmounted = 11;
    public const int FuseUnmountFailed = 12;
    public const int FuseReadLoopFailed = 13;
    public const int FuseHandlerCrashed = 14;
    public const int FuseReadAheadUnchanged = 15;
    public const int FuseSessionInitialized = 16;
    public const int FuseReadFailed = 17;
    public const int FuseRequestFailed = 18;
    public const int StaleMountReplaced = 19;

    // FUSE writes (6201-6299).
    public const int FuseWriteUploaded = 6201;
    public const int FuseWriteUploadFailed = 6202;
    public const int FuseStagedRecovered = 6203;
    public const int FuseStagedStaleDeleted = 6204;
    public const int FuseWriteRetryFailed = 6205;

    // Copy volume (30-39).
    public const int CopyPlanned = 30;
    public const int CopyCompleted = 31;
    public const int CopyFailed = 32;
    public const int CopySkipped = 33;

    // Volume mode and mounts (40-49).
    public const int VolumeModeChosen = 40;
    public const int FuseUnusable = 41;
    public const int FallingBackToCopy = 42;
    public const int MountFailed = 43;
    public const int VolumeReconcileFailed = 44;
    public const int UnmountedExternally = 45;
    public const int PrivilegeDropFailed = 46;
    public const int MountHelperStarted = 47;

    // Privileges (6100-6199).
    public const int PrivilegesDropped = 6101;
    public const int NothingToDrop = 6102;

    // Datasets (100-199).
    public const int DatasetsPublished = 100;

    // S3 endpoint (200-299).
    public const int RemoteUnavailable = 200;
    public const int RequestFailed = 201;
    public const int RequestAbortedMidBody = 202;

    // Block cache and readers (300-399).
    public const int CacheDirectoryUnusable = 301;
    public const int CorruptBlockDropped = 302;
    public const int BlockPassThrough = 303;
    public const int BlockUnreadable = 304;
    public const int BlockDeleteFailed = 305;
    public const int CacheIndexLoaded = 306;
    public const int CacheIndexLoadFailed = 307;
    public const int ReadAheadFailed = 310;

    // Shared block tier (2401-2499).
    public const int SharedTierConnectFailed = 2401;
    public const int SharedTierConnectRestored = 2402;
    public const int SharedTierCorruptValue = 2403;
    public const int SharedTierCallFailed = 2404;

    // Remote sources: retries and circuit breaker (2001-2099).
    public const int SourceRetrying = 2001;
    public const int SourceCircuitOpened = 2002;
    public const int SourceCircuitClosed = 2003;

    // Prefetch (5001-5099).
    public const int PrefetchStarted = 5001;
    public const int PrefetchFinished = 5002;
    public const int PrefetchFileFailed = 5003;
    public const int PrefetchQuotaReached = 5004;
    public const int PrefetchPlanFailed = 5005;
    public const int PrefetchBadEntries = 5010;

    // Live configuration (5101-5199).
    public const int ConfigFileApplied = 5101;
    public const int ConfigFileRejected = 5102;
    public const int ConfigFileEventsFailed = 5103;
    public const int ConfigFileCheckFailed = 5104;
    public const int DatasetSnapshotApplied = 5110;
    public const int RetiredSourceDisposeFailed = 5111;

    // Upload staging (5201-5299).
    public const int UploadStagingSwept = 5201;
    public const int UploadStagingSweepFailed = 5202;
}
