using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// Gives the memory of a finished cold burst back to the OS (RSS is paid by every pod). A cold GET holds
/// up to 16 block buffers of 4 MiB in flight; afterwards <see cref="BlockBuffers"/> keeps a few and drops the rest,
/// but dropped large arrays are only reclaimed by a full collection, which a sidecar serving cached ranges may not
/// run for a long time (range reads allocate almost nothing). So, every <see cref="CheckInterval"/>: when at least
/// <see cref="MinDroppedBytes"/> of block buffers were dropped since the last collection and no block buffer was
/// rented for a whole interval (the burst is over), run one compacting collection that also decommits.
/// It costs a pause of a few milliseconds once per burst, never during one.
/// <para>
/// The block cache also reports one-off garbage through <see cref="ReclaimableMemory"/> (the start-up index scan
/// leaves megabytes of paths and headers behind, and the index drops its grown table). A report is collected at
/// the first check that finds the process quiet (less than <see cref="QuietAllocationBytes"/> allocated since the
/// previous check): the scan ends right before the pod turns ready, and a full compacting collection in the first
/// seconds of serving is exactly the stall a fresh pod must not have. Under steady load it is collected anyway once
/// it has waited <see cref="MaxReportDeferral"/>, so that memory is never kept for as long as the pod serves.
/// </para>
/// </summary>
internal sealed partial class MemoryTrimmer(TimeProvider time, ILogger<MemoryTrimmer> logger) : IHostedService, IDisposable
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    /// <summary>Less than this is not worth a full collection (4 block buffers of the default size).</summary>
    public const long MinDroppedBytes = 16L * 1024 * 1024;

    /// <summary>Allocated between two checks below this, the process is idle enough for a full collection.</summary>
    public const long QuietAllocationBytes = 4L * 1024 * 1024;

    /// <summary>The longest a reported garbage waits for a quiet moment.</summary>
    public static readonly TimeSpan MaxReportDeferral = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private ITimer? _timer;
    private long _droppedAtLastCollection;
    private long _reportsAtLastCollection;
    private long _allocatedAtLastCheck = GC.GetTotalAllocatedBytes();
    private TimeSpan _reportWaited;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = time.CreateTimer(static state => ((MemoryTrimmer)state!).Check(), this, CheckInterval, CheckInterval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    private void Check()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        var busy = allocated - Interlocked.Exchange(ref _allocatedAtLastCheck, allocated) >= QuietAllocationBytes;
        TryTrim(
            BlockBuffers.DroppedBytes,
            TimeSpan.FromMilliseconds(Environment.TickCount64 - BlockBuffers.LastLargeRentTicks),
            ReclaimableMemory.Reports,
            busy);
    }

    /// <summary>
    /// Collects when the cache reported garbage since the last collection (<paramref name="reclaimReports"/> grew) and
    /// the process is not <paramref name="busy"/> or the report waited <see cref="MaxReportDeferral"/>, or when enough
    /// block buffers were dropped and the burst is over; true when it collected. Called once per
    /// <see cref="CheckInterval"/>.
    /// </summary>
    internal bool TryTrim(long droppedBytes, TimeSpan sinceLastLargeRent, long reclaimReports = 0, bool busy = false)
    {
        long dropped;
        lock (_gate)
        {
            dropped = droppedBytes - _droppedAtLastCollection;
            var reported = reclaimReports > _reportsAtLastCollection;
            var reportDue = false;
            if (reported)
            {
                _reportWaited += CheckInterval;
                reportDue = !busy || _reportWaited > MaxReportDeferral;
            }

            if (!reportDue && (dropped < MinDroppedBytes || sinceLastLargeRent < CheckInterval))
            {
                return false;
            }

            _reportWaited = TimeSpan.Zero;

            _droppedAtLastCollection = droppedBytes;
            _reportsAtLastCollection = reclaimReports;
        }

        var before = Environment.WorkingSet;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        ReclaimableMemory.RecordCollection();
        LogTrimmed(logger, dropped / (1024 * 1024), before / (1024 * 1024), Environment.WorkingSet / (1024 * 1024));
        return true;
    }

    [LoggerMessage(EventId = EventIds.MemoryTrimmed, Level = LogLevel.Debug, Message = "Returned memory after a burst: {DroppedMiB} MiB of block buffers dropped; RSS {BeforeMiB} -> {AfterMiB} MiB")]
    private static partial void LogTrimmed(ILogger logger, long droppedMiB, long beforeMiB, long afterMiB);
}
