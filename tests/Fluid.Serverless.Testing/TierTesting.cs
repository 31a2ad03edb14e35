using System.Diagnostics;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Resilience;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Testing;

/// <summary>Builds guarded tiers over real engines and waits for their asynchronous writes.</summary>
internal static class TierTesting
{
    /// <summary>Generous per-call timeout: these tests check bytes and counters, not speed, on a shared 2-core machine.</summary>
    public static readonly SharedTierOptions Relaxed = new()
    {
        Prefix = "test/" + Guid.NewGuid().ToString("N")[..8] + "/",
        Timeout = TimeSpan.FromSeconds(10),
        Lease = TimeSpan.FromSeconds(20),
        MaxPendingWrites = 64,
    };

    public static GuardedSharedBlockTier Redis(IEnumerable<string> endpoints, SharedTierOptions? options = null) => Redis(endpoints, out _, options);

    /// <summary>A tier over a Redis-protocol engine, and its store (to tell which reads took which path).</summary>
    public static GuardedSharedBlockTier Redis(IEnumerable<string> endpoints, out RedisTierStore store, SharedTierOptions? options = null, string? password = null)
    {
        var settings = options ?? Relaxed;
        store = new RedisTierStore(RedisTierStore.CreateOptions(endpoints, null, password, tls: false, settings.Timeout), NullLogger.Instance);
        return new GuardedSharedBlockTier(store, settings, TimeProvider.System, NullLogger.Instance);
    }

    public static SharedTierOptions WithBreaker(SharedTierOptions options, TimeSpan breakDuration, int minimumThroughput = 4) => options with
    {
        Breaker = new SourceResilienceOptions
        {
            BreakerFailureRatio = 0.5,
            BreakerMinimumThroughput = minimumThroughput,
            BreakerSampling = TimeSpan.FromSeconds(30),
            BreakerBreak = breakDuration,
        },
    };

    public static SharedBlockId Id(string key, long index = 0, int blockSize = 4 << 20, string version = "\"etag-1\"") =>
        new("s3|http://remote.test|bucket", key, version, blockSize, index);

    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>Waits until the tier finished (written or dropped) every queued write.</summary>
    public static async Task DrainAsync(GuardedSharedBlockTier tier)
    {
        await Until(() => tier.Metrics.PendingWrites == 0, "the queued writes to finish");
    }

    public static async Task ConnectedAsync(GuardedSharedBlockTier tier) => await Until(() => tier.GetStatus().Connected, "the tier to connect");

    /// <summary>Polls <paramref name="condition"/>; fails naming <paramref name="what"/> after a minute (a bound, not a measurement).</summary>
    public static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what);

    /// <summary>Polls <paramref name="condition"/>; fails naming <paramref name="what"/> after a minute (a bound, not a measurement).</summary>
    public static async Task Until(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"gave up waiting for {what}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Puts <paramref name="block"/> and waits until it is written; fails if the write was dropped.</summary>
    public static async Task PutAndWaitAsync(GuardedSharedBlockTier tier, SharedBlockId id, byte[] block)
    {
        var fills = tier.Metrics.Snapshot().Fills;
        tier.Put(id, block);
        await DrainAsync(tier);
        Assert.Equal(fills + 1, tier.Metrics.Snapshot().Fills);
    }
}
