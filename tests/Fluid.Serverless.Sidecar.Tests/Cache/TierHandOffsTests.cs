using Fluid.Serverless.Sidecar.Cache;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

/// <summary>
/// The memory of which tier hits were handed over: a block's second hit must be recognised (then it is stored), also
/// when many blocks are read together. String hashing is randomized per process, so each run draws new hashes; the
/// margins below hold for any draw but a vanishingly unlikely one.
/// </summary>
public sealed class TierHandOffsTests
{
    [Fact]
    public void OneObjectOf256Blocks_EverySecondHitIsRecognised()
    {
        var handOffs = new TierHandOffs();
        var keys = Keys("model.safetensors", 256);

        Assert.All(keys, key => Assert.True(handOffs.IsFirstHit(key)));
        Assert.All(keys, key => Assert.False(handOffs.IsFirstHit(key), $"block {key.Index} was handed over again instead of being stored"));
    }

    [Fact]
    public void TenThousandBlocksReadTogether_AtLeast99PercentOfSecondHitsAreRecognised()
    {
        // With one entry per slot about 14 % of these keys would lose theirs to another key and be handed over again.
        var handOffs = new TierHandOffs();
        var keys = Enumerable.Range(0, 100).SelectMany(file => Keys($"shard-{file:D5}.tar", 100)).ToList();

        Assert.All(keys, key => Assert.True(handOffs.IsFirstHit(key)));
        var recognised = keys.Count(key => !handOffs.IsFirstHit(key));
        Assert.True(recognised >= 9_900, $"only {recognised} of {keys.Count} second hits recognised");
    }

    [Fact]
    public void SameKeyUnderAnotherETag_IsANewBlock()
    {
        var handOffs = new TierHandOffs();
        var key = new BlockKey("s3://minio:9000/data/", "a.bin", "\"v1\"", 0);

        Assert.True(handOffs.IsFirstHit(key));
        Assert.True(handOffs.IsFirstHit(key with { ETag = "\"v2\"" }));
        Assert.False(handOffs.IsFirstHit(key));
    }

    private static List<BlockKey> Keys(string objectKey, int blocks) =>
        [.. Enumerable.Range(0, blocks).Select(i => new BlockKey("s3://minio:9000/data/", objectKey, "\"0123456789abcdef0123456789abcdef-16\"", i))];
}
