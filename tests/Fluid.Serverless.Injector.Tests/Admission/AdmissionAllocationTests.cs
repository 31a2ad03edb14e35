using System.Text.Json;
using Fluid.Serverless.Micro.HotPaths;
using Xunit.Abstractions;

namespace Fluid.Serverless.Injector.Tests.Admission;

/// <summary>
/// The allocation budget of one admission through POST /mutate (bench/micro/README.md has the BenchmarkDotNet figures
/// the budgets come from). Bytes per admission are stable on a noisy machine where time is not, so CI checks these.
/// Runs alone (its collection is not parallel) and counts the whole process's allocations, so an await that resumes
/// on another thread is still counted.
/// </summary>
[Collection(AdmissionAllocationCollection.Name)]
public sealed class AdmissionAllocationTests(ITestOutputHelper output)
{
    /// <summary>Measured 69,616 bytes per admission (Release and Debug within 1 %), plus headroom.</summary>
    public const long SmallPodBudgetBytes = 80_000;

    /// <summary>Measured 3,403,216 bytes for an 80 KB AdmissionReview (4,312,113 before the diff stopped writing a pointer per node).</summary>
    public const long HugePodBudgetBytes = 3_500_000;

    [Theory]
    [InlineData("small", 3, 0, SmallPodBudgetBytes)]
    [InlineData("huge", 1500, 199, HugePodBudgetBytes)]
    public async Task Mutate_Pod_InjectsAndAllocatesWithinBudget(string pod, int envVars, int extraVolumes, long budget)
    {
        var admission = new AdmissionHotPath(envVars, extraVolumes);
        var warm = pod == "huge" ? 20 : 200;
        var measured = pod == "huge" ? 50 : 500;
        for (var i = 0; i < warm; i++)
        {
            Assert.Equal(200, await admission.AdmitAsync());
        }

        using (var reply = JsonDocument.Parse(admission.LastResponse.ToArray()))
        {
            var response = reply.RootElement.GetProperty("response");
            Assert.True(response.GetProperty("allowed").GetBoolean());
            Assert.Equal("JSONPatch", response.GetProperty("patchType").GetString());
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < measured; i++)
        {
            await admission.AdmitAsync();
        }

        var perAdmission = (GC.GetTotalAllocatedBytes(precise: true) - before) / measured;
        output.WriteLine($"{pod} pod ({admission.ReviewBytes.Length} bytes of AdmissionReview): {perAdmission} bytes allocated per admission");
        Assert.True(perAdmission <= budget, $"an admission of the {pod} pod allocates {perAdmission} bytes; the budget is {budget} (bench/micro/README.md)");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AdmissionAllocationCollection
{
    public const string Name = "admission allocation budget";
}
