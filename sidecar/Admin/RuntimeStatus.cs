using System.Runtime;
using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Admin;

/// <summary>
/// The runtime part of /status: GC mode and counts, the last collection, the thread pool and memory trims. A
/// benchmark reads it before and after each round, so a round that ran a full collection or grew the thread pool
/// shows it next to its figure instead of only as noise.
/// </summary>
internal sealed record RuntimeStatus(
    bool ServerGc,
    string LatencyMode,
    int? GcDynamicAdaptationMode,
    long[] GcCollections,
    long TotalAllocatedBytes,
    double TotalGcPauseMilliseconds,
    long HeapSizeBytes,
    long CommittedBytes,
    LastCollectionStatus? LastCollection,
    ThreadPoolStatus ThreadPool,
    long MemoryTrims,
    long WorkingSetBytes)
{
    public static RuntimeStatus Capture()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        LastCollectionStatus? last = null;
        if (info.Index > 0)
        {
            var generations = info.GenerationInfo;
            last = new LastCollectionStatus(
                info.Index,
                info.Generation,
                info.Compacted,
                info.PauseDurations.Length > 0 ? info.PauseDurations[0].TotalMilliseconds : 0,
                info.PromotedBytes,
                generations.Length > 0 ? generations[0].SizeAfterBytes : 0,
                info.FragmentedBytes);
        }

        System.Threading.ThreadPool.GetMinThreads(out var minWorkers, out var minCompletionPorts);
        var threadPool = new ThreadPoolStatus(
            System.Threading.ThreadPool.ThreadCount,
            minWorkers,
            minCompletionPorts,
            System.Threading.ThreadPool.PendingWorkItemCount,
            System.Threading.ThreadPool.CompletedWorkItemCount);

        var generationsCount = GC.MaxGeneration + 1;
        var collections = new long[generationsCount];
        for (var generation = 0; generation < generationsCount; generation++)
        {
            collections[generation] = GC.CollectionCount(generation);
        }

        return new RuntimeStatus(
            GCSettings.IsServerGC,
            GCSettings.LatencyMode.ToString(),
            AppContext.GetData("System.GC.DynamicAdaptationMode") is { } mode && int.TryParse(mode.ToString(), out var parsed) ? parsed : null,
            collections,
            GC.GetTotalAllocatedBytes(precise: false),
            GC.GetTotalPauseDuration().TotalMilliseconds,
            info.HeapSizeBytes,
            info.TotalCommittedBytes,
            last,
            threadPool,
            ReclaimableMemory.Collections,
            Environment.WorkingSet);
    }
}

/// <summary>The most recent collection: which generation, whether it compacted, its pause and what gen0 kept.</summary>
internal sealed record LastCollectionStatus(
    long Index,
    int Generation,
    bool Compacted,
    double PauseMilliseconds,
    long PromotedBytes,
    long Gen0SizeAfterBytes,
    long FragmentedBytes);

/// <summary>Thread-pool threads now and its floor: a count that grows during a round is hill climbing at work.</summary>
internal sealed record ThreadPoolStatus(
    int Threads,
    int MinWorkerThreads,
    int MinCompletionPortThreads,
    long PendingWorkItems,
    long CompletedWorkItems);
