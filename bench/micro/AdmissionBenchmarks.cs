using BenchmarkDotNet.Attributes;
using Fluid.Serverless.Micro.HotPaths;

namespace Fluid.Serverless.Micro;

/// <summary>One admission through the injector's POST /mutate handler, in process: the small and the huge pod of bench/injector.</summary>
[MemoryDiagnoser]
public class AdmissionBenchmarks
{
    private AdmissionHotPath _small = null!;
    private AdmissionHotPath _huge = null!;

    [GlobalSetup]
    public void Setup()
    {
        _small = new AdmissionHotPath(envVars: 3, extraVolumes: 0);
        _huge = new AdmissionHotPath(envVars: 1500, extraVolumes: 199);
    }

    [Benchmark(Baseline = true)]
    public Task<int> MutateSmallPod() => _small.AdmitAsync();

    [Benchmark]
    public Task<int> MutateHugePod() => _huge.AdmitAsync();
}
