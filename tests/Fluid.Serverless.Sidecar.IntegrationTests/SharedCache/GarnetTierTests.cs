using Fluid.Serverless.Sidecar.Cache.SharedTier;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>The Redis-protocol tier against Microsoft Garnet.</summary>
[Collection(GarnetCollection.Name)]
public sealed class GarnetTierTests(GarnetFixture garnet)
{
    [Fact]
    public async Task PutThenGet_FourMiBBlocks_BytesEqual()
    {
        await using var tier = TierTesting.Redis([garnet.Endpoint]);
        await TierTesting.ConnectedAsync(tier);
        var blocks = Enumerable.Range(0, 4).Select(i => (Id: TierTesting.Id("garnet/big.bin", i), Bytes: TierTesting.Bytes(4 << 20, 40 + i))).ToList();
        foreach (var (id, bytes) in blocks)
        {
            tier.Put(id, bytes);
        }

        await TierTesting.DrainAsync(tier);
        Assert.Equal(blocks.Count, tier.Metrics.Snapshot().Fills);
        foreach (var (id, bytes) in blocks)
        {
            var read = new byte[bytes.Length];
            Assert.True(await tier.TryGetAsync(id, read, CancellationToken.None));
            Assert.Equal(TierTesting.Sha256(bytes), TierTesting.Sha256(read));
        }
    }

    [Fact]
    public async Task TryGet_ValueOverwrittenRaw_IsMissCountedAsCorrupt()
    {
        await using var tier = TierTesting.Redis([garnet.Endpoint]);
        await TierTesting.ConnectedAsync(tier);
        var id = TierTesting.Id("garnet/corrupt.bin", 0, 4096);
        await TierTesting.PutAndWaitAsync(tier, id, TierTesting.Bytes(4096, 1));
        var hash = new byte[SharedTierKeys.HashSize];
        id.Hash(hash);
        await RedisServers.CliAsync("-p", garnet.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "SET", SharedTierKeys.Block(TierTesting.Relaxed.Prefix, hash), "FLBK but not a block");

        Assert.False(await tier.TryGetAsync(id, new byte[4096], CancellationToken.None));
        Assert.Equal(1, tier.Metrics.Snapshot().CorruptValues);
    }

    [Fact]
    public async Task FillLease_TwoPodsAtOnce_ExactlyOneWins()
    {
        await using var first = TierTesting.Redis([garnet.Endpoint]);
        await using var second = TierTesting.Redis([garnet.Endpoint]);
        await TierTesting.ConnectedAsync(first);
        await TierTesting.ConnectedAsync(second);
        var id = TierTesting.Id("garnet/contended.bin", 3);

        var leases = await Task.WhenAll(
            first.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask(),
            second.TryAcquireFillLeaseAsync(id, CancellationToken.None).AsTask());

        Assert.Equal([FillLease.Acquired, FillLease.HeldElsewhere], leases.Order());
    }
}
