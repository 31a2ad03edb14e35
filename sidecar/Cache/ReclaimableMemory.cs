namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// Where the cache tells the host that it has just left a large amount of garbage behind (the start-up scan's
/// paths, headers and sorted list, and the index's grown table). The cache only reports; whether and when to run
/// a collection is the host's <c>MemoryTrimmer</c>'s decision. Process-wide, like <see cref="BlockBuffers"/>.
/// </summary>
internal static class ReclaimableMemory
{
    private static long _reports;
    private static long _collections;

    /// <summary>How many times garbage worth a full collection was reported since the process started.</summary>
    public static long Reports => Interlocked.Read(ref _reports);

    public static void Report() => Interlocked.Increment(ref _reports);

    /// <summary>How many trimming collections the host ran (shown on /status, so a benchmark round can tell it met one).</summary>
    public static long Collections => Interlocked.Read(ref _collections);

    public static void RecordCollection() => Interlocked.Increment(ref _collections);
}
