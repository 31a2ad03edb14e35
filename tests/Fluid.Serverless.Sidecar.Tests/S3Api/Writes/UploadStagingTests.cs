using Fluid.Serverless.Sidecar.S3Api.Writes;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Writes;

/// <summary>The start-up sweep of the upload staging directory, on real files staged by the real classes.</summary>
public sealed class UploadStagingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fluid-staging-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task SweepLeftovers_SpoolFilesAndUploadsUntouchedForAWeek_AreDeletedAndRecentUploadsStayUsable()
    {
        var staging = new UploadStaging(Path.Combine(_root, "uploads"));
        var dataset = Directory.CreateDirectory(Path.Combine(_root, "dataset")).FullName;
        var source = new LocalObjectSource(dataset);
        var uploads = new StagedMultipartUploads(staging.MultipartDirectory, source.Identity, source, staging.Space);
        var abandoned = await uploads.CreateMultipartUploadAsync("old.bin", ObjectWriteOptions.None, CancellationToken.None);
        await uploads.UploadPartAsync("old.bin", abandoned, 1, new MemoryStream([1, 2, 3]), 3, PartDigests.None, CancellationToken.None);
        var recent = await uploads.CreateMultipartUploadAsync("new.bin", ObjectWriteOptions.None, CancellationToken.None);
        Directory.CreateDirectory(staging.SpoolDirectory);
        await File.WriteAllBytesAsync(Path.Combine(staging.SpoolDirectory, "0123abcd"), [9, 9]); // a killed request's spool file

        var now = DateTimeOffset.UtcNow;
        var eightDaysAgo = now.UtcDateTime - TimeSpan.FromDays(8);
        var abandonedDirectory = Path.Combine(staging.MultipartDirectory, abandoned);
        foreach (var file in Directory.EnumerateFiles(abandonedDirectory))
        {
            File.SetLastWriteTimeUtc(file, eightDaysAgo);
        }
        Directory.SetLastWriteTimeUtc(abandonedDirectory, eightDaysAgo);

        var swept = staging.SweepLeftovers(now, UploadStaging.AbandonedUploadAge);

        Assert.Equal(new StagingSweep(SpoolFiles: 1, AbandonedUploads: 1), swept);
        Assert.Empty(Directory.EnumerateFiles(staging.SpoolDirectory));
        Assert.False(Directory.Exists(abandonedDirectory));
        var error = await Assert.ThrowsAsync<UploadRejectedException>(() => uploads.UploadPartAsync("old.bin", abandoned, 2, new MemoryStream([4]), 1, PartDigests.None, CancellationToken.None).AsTask());
        Assert.Equal("NoSuchUpload", error.Error.Code);

        // The upload touched within the week is whole: it takes a part and completes.
        var etag = await uploads.UploadPartAsync("new.bin", recent, 1, new MemoryStream([7, 8]), 2, PartDigests.None, CancellationToken.None);
        await uploads.CompleteMultipartUploadAsync("new.bin", recent, [new UploadedPart(1, etag)], CancellationToken.None);
        Assert.Equal(new byte[] { 7, 8 }, await File.ReadAllBytesAsync(Path.Combine(dataset, "new.bin")));
    }

    [Fact]
    public void SweepLeftovers_NoStagingDirectoryYet_DeletesNothing()
    {
        var staging = new UploadStaging(Path.Combine(_root, "never-created"));

        Assert.Equal(new StagingSweep(0, 0), staging.SweepLeftovers(DateTimeOffset.UtcNow, UploadStaging.AbandonedUploadAge));
    }
}
