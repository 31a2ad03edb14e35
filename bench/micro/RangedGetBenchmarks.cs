using BenchmarkDotNet.Attributes;
using Fluid.Serverless.Micro.HotPaths;

namespace Fluid.Serverless.Micro;

/// <summary>One 64 KiB ranged GET served from a warm block cache through the real S3 request handler, in process.</summary>
[MemoryDiagnoser]
public class RangedGetBenchmarks
{
    private RangedGetHitPath _hitPath = null!;

    [GlobalSetup]
    public void Setup() => _hitPath = RangedGetHitPath.StartAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => _hitPath.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public Task<int> RangedGet64KiBCacheHit() => _hitPath.GetNextRangeAsync();
}
