using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>The S3 tier (a bucket as the shared block cache) against moto_server.</summary>
[Collection(MotoCollection.Name)]
public sealed class S3TierTests(MotoServerFixture moto)
{
    private async Task<(GuardedSharedBlockTier Tier, string Bucket)> CreateAsync()
    {
        var bucket = await moto.CreateBucketAsync("tier");
        var store = S3TierStore.Create(moto.Endpoint, "us-east-1", bucket, moto.AccessKey, moto.SecretKey);
        return (new GuardedSharedBlockTier(store, TierTesting.Relaxed, TimeProvider.System, NullLogger.Instance), bucket);
    }

    [Fact]
    public async Task PutThenGet_Blocks_BytesEqual()
    {
        var (tier, _) = await CreateAsync();
        await using var _tier = tier;
        var blocks = Enumerable.Range(0, 3).Select(i => (Id: TierTesting.Id("s3/data.bin", i), Bytes: TierTesting.Bytes(i == 2 ? 123_457 : 4 << 20, 60 + i))).ToList();
        foreach (var (id, bytes) in blocks)
        {
            await TierTesting.PutAndWaitAsync(tier, id, bytes);
        }

        foreach (var (id, bytes) in blocks)
        {
            var read = new byte[bytes.Length];
            Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
            Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        }

        Assert.False(await tier.TryGetAsync(TierTesting.Id("s3/absent.bin"), new byte[16], CancellationToken.None));
        Assert.Equal(0, tier.Metrics.Snapshot().Errors);
    }

    [Fact]
    public async Task TryGet_ObjectOverwrittenByAPlainPut_IsMissCountedAsCorruptThenRefilled()
    {
        var (tier, bucket) = await CreateAsync();
        await using var _tier = tier;
        var id = TierTesting.Id("s3/corrupt.bin", 0, 8192);
        var bytes = TierTesting.Bytes(8192, 2);
        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        var key = SharedTierKeys.Block(TierTesting.Relaxed.Prefix, hash);

        // A value of the right length with one payload byte changed: only the CRC32C tells.
        using var original = await moto.Client.GetObjectAsync(bucket, key);
        using var copy = new MemoryStream();
        await original.ResponseStream.CopyToAsync(copy);
        var tampered = copy.ToArray();
        tampered[SharedBlockValue.HeaderSize + 10] ^= 1;
        await moto.PutAsync(bucket, key, tampered);

        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));
        Assert.Equal(1, tier.Metrics.Snapshot().CorruptValues);

        // A value of another length is read whole and refused; a longer one is not read at all.
        await moto.PutAsync(bucket, key, "not a block"u8.ToArray());
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));
        Assert.Equal(2, tier.Metrics.Snapshot().CorruptValues);
        await moto.PutAsync(bucket, key, [.. copy.ToArray(), .. "trailing"u8]);
        Assert.False(await tier.TryGetAsync(id, new byte[bytes.Length], CancellationToken.None));
        Assert.Equal(2, tier.Metrics.Snapshot().CorruptValues);

        await TierTesting.PutAndWaitAsync(tier, id, bytes);
        var read = new byte[bytes.Length];
        Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
        Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        Assert.Equal(0, tier.Metrics.Snapshot().Errors);
    }

    [Fact]
    public async Task FillLease_TwoPodsAtOnce_ExactlyOneWinsThroughIfNoneMatch()
    {
        var (first, bucket) = await CreateAsync();
        await using var _first = first;
        var secondStore = S3TierStore.Create(moto.Endpoint, "us-east-1", bucket, moto.AccessKey, moto.SecretKey);
        await using var second = new GuardedSharedBlockTier(secondStore, TierTesting.Relaxed, TimeProvider.System, NullLogger.Instance);
        var id = TierTesting.Id("s3/contended.bin", 1);

        var leases = await Task.WhenAll(
            first.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask(),
            second.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask());

        Assert.Equal([FillLease.Acquired, FillLease.HeldElsewhere], leases.Order());
        var listed = await moto.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = TierTesting.Relaxed.Prefix + "lease/" });
        Assert.Single(listed.S3Objects);
    }
}
