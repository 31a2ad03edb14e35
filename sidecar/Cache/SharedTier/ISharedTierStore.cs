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

    /// <summary>
    /// The value under <paramref name="key"/>, read straight into <paramref name="header"/> and then
    /// <paramref name="payload"/> when it is exactly as long as both (<see cref="StoredValueKind.InPlace"/>: a block
    /// lands in the buffer it is served from, with no copy in between). A value of any other length up to
    /// <paramref name="maxLength"/> comes back whole, for the caller to check as one from <see cref="GetAsync"/>. This
    /// default reads every value whole; an engine that can receive into the caller's buffers overrides it.
    /// </summary>
    async Task<StoredValue> ReadIntoAsync(string key, Memory<byte> header, Memory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        return StoredValue.WholeOrAbsent(await GetAsync(key, maxLength, cancellationToken).ConfigureAwait(false));
    }

    Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="header"/> followed by <paramref name="payload"/> under <paramref name="key"/>. This default
    /// joins them into one value for <see cref="SetAsync"/>; an engine that can send a value from two buffers overrides it,
    /// so that a block is sent from the buffer it lies in.
    /// </summary>
    Task WriteFromAsync(string key, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        SetJoinedAsync(this, key, header, payload, cancellationToken);

    /// <summary><see cref="SetAsync"/> with <paramref name="header"/> and <paramref name="payload"/> joined in a buffer of exactly their size.</summary>
    public static async Task SetJoinedAsync(ISharedTierStore store, string key, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var value = BlockBuffers.AllocateExact(header.Length + payload.Length);
        try
        {
            header.CopyTo(value);
            payload.CopyTo(value.AsMemory(header.Length));
            await store.SetAsync(key, value, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Never reused: a call that timed out may still hold it.
            BlockBuffers.LetGo(value);
        }
    }

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

/// <summary>What <see cref="ISharedTierStore.ReadIntoAsync"/> found: nothing, a value now in the caller's buffers, or a value of another length in <see cref="Value"/> (the caller disposes it).</summary>
internal readonly record struct StoredValue(StoredValueKind Kind, IMemoryOwner<byte>? Value)
{
    public static StoredValue Absent => new(StoredValueKind.Absent, null);

    public static StoredValue InPlace => new(StoredValueKind.InPlace, null);

    public static StoredValue Whole(IMemoryOwner<byte> value) => new(StoredValueKind.Whole, value);

    /// <summary>A value read whole (as <see cref="ISharedTierStore.GetAsync"/> returns it): null = absent.</summary>
    public static StoredValue WholeOrAbsent(IMemoryOwner<byte>? value) => value is null ? Absent : Whole(value);
}

internal enum StoredValueKind
{
    Absent,
    InPlace,
    Whole,
}
