using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.Volume;

/// <summary>The FUSE view of a bucket on a real S3 server (moto) through the real S3 source, block cache and reader.</summary>
[Collection(MotoCollection.Name)]
public sealed class FuseOverS3Tests(MotoServerFixture moto) : IAsyncLifetime
{
    private const string SecretVariable = "FLUID_TEST_VOLUME_SECRET";
    private readonly string _root = TempDirectory.Create("fluid-fuse-s3");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        TempDirectory.Delete(_root);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Mount_MotoBucket_EveryFileHasTheUploadedBytes()
    {
        var bucket = await moto.CreateBucketAsync("fuse");
        var expected = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var random = new Random(21);
        foreach (var (key, size) in new[] { ("big.bin", 9 * 1024 * 1024 + 5), ("images/a/1.jpg", 3000), ("images/a/2.jpg", 70_000), ("images/b/3.jpg", 1), ("empty", 0) })
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            expected[key] = bytes;
            await moto.PutAsync(bucket, key, bytes);
        }
        var config = new DatasetConfig
        {
            Name = "fuse-s3",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string> { ["endpoint"] = moto.Endpoint, ["accessKeyId"] = moto.AccessKey },
            SecretOptions = new Dictionary<string, string> { ["secretAccessKey"] = SecretVariable },
        };
        await using var source = new SourceFactory(name => name == SecretVariable ? moto.SecretKey : null).Create(config);
        await using var cache = new DiskBlockCache(
            new DiskBlockCacheOptions { Directory = Path.Combine(_root, "cache"), BlockSize = 1024 * 1024, QuotaBytes = 1L << 30, MinFreeBytes = 0 },
            NullLogger<DiskBlockCache>.Instance, TimeProvider.System);
        await using var reader = new ObjectReader(cache, new ObjectReaderOptions(), NullLogger<ObjectReader>.Instance, TimeProvider.System);
        await using var mounted = await MountedDataset.StartAsync(source, reader, mountPath: Path.Combine(_root, "mnt"));

        var files = await Shell.BashAsync($"cd '{mounted.MountPath}' && find . -type f | LC_ALL=C sort");
        Assert.Equal(string.Concat(expected.Keys.Select(k => $"./{k}\n")), files.StandardOutput);
        var sums = await Shell.BashAsync($"cd '{mounted.MountPath}' && find . -type f | LC_ALL=C sort | xargs sha256sum");
        var expectedSums = string.Concat(expected.Select(e => $"{Convert.ToHexStringLower(SHA256.HashData(e.Value))}  ./{e.Key}\n"));
        Assert.Equal(expectedSums, sums.StandardOutput);
        var dd = await Shell.BashAsync($"dd if='{mounted.PathOf("big.bin")}' bs=4096 skip=1000 count=3 status=none | sha256sum");
        Assert.StartsWith(Convert.ToHexStringLower(SHA256.HashData(expected["big.bin"].AsSpan(4096 * 1000, 4096 * 3))), dd.StandardOutput, StringComparison.Ordinal);
    }
}
