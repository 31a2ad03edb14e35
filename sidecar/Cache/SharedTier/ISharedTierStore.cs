using System.Buffers;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// One engine's raw key/value operations. Implementations may throw and may be slow: <see cref="GuardedSharedBlockTier"/>
/// puts the timeout, the breaker and the accounting around every call.
/// </summary>
internal interface ISharedTierStore : IAsyncDisposable
{
    string Engine { get; }

    /// <summary>True once the engine was reached; calls before that are misses, not waits.</summary>
    bool IsConnected { get; }

    /// <summary>
    /// The value under <paramref name="key"/> in a buffer the caller disposes; null when absent. A value longer than
    /// <paramref name="maxLength"/> is returned as absent without reading it whole.
    /// </summary>
    Task<IMemoryOwner<byte>?> GetAsync(string key, int maxLength, CancellationToken cancellationToken);

    Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);

    /// <summary>
    /// Creates <paramref name="key"/> only when absent, expiring after <paramref name="lifetime"/>: true = created (or
    /// it already holds <paramref name="value"/>: a create that timed out and is tried again finds its own lease), false
    /// = another value exists, null = the engine cannot do conditional creates.
    /// </summary>
    Task<bool?> TryCreateAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes <paramref name="key"/> when it still holds <paramref name="value"/> (a lease given back by its holder).
    /// Best effort: an engine that cannot tell lets the key expire instead.
    /// </summary>
    Task DeleteIfValueAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);

    /// <summary>
    /// Pushes the expiry of <paramref name="key"/> to <paramref name="lifetime"/> from now when it still holds
    /// <paramref name="value"/> (a lease renewed by its holder while its fetch is in flight): true = renewed, false =
    /// the key is gone or another pod's, or the engine cannot renew (then the lease ends when it expires).
    /// </summary>
    Task<bool> TryExtendAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken);
}
