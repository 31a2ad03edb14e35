using System.Buffers;
using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// A Redis-protocol engine through StackExchange.Redis: Redis Cluster and standalone, Valkey, Garnet, Tair,
/// ElastiCache. The client follows cluster topology itself (CLUSTER SLOTS/NODES, MOVED and ASK redirections, CRC16
/// slots) and pipelines every command over one connection per node. It connects in the background: an engine that is
/// down at start delays nothing, and calls before the first connection are misses.
/// Three clients, three connections per node: block reads, block writes (megabytes each) and lease commands (bytes
/// each) each have their own. On one pipelined connection every command queues behind the blocks ahead of it, so under
/// load the small calls that decide who fetches a block, and the reads a reader waits for, time out behind writes no
/// one waits for. Block values themselves are received and sent over connections of our own
/// (<see cref="RedisBlockConnections"/>), straight into and from the caller's buffers; the library's clients serve the
/// reads and writes those hand back.
/// </summary>
internal sealed partial class RedisTierStore : ISharedTierStore
{
    private readonly Task<ConnectionMultiplexer> reads;
    private readonly Task<ConnectionMultiplexer> writes;
    private readonly Task<ConnectionMultiplexer> control;
    private readonly RedisBlockConnections? blockConnections;
    private readonly ILogger logger;
    private long directReads;
    private long libraryReads;
    private long directWrites;
    private long libraryWrites;

    public RedisTierStore(ConfigurationOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.logger = logger;
        // Never abort: the client keeps reconnecting in the background, whatever state the engine is in at start.
        options.AbortOnConnectFail = false;
        options.ClientName ??= "fluid-sidecar";
        reads = ConnectInBackground(options, "-reads");
        writes = ConnectInBackground(options, "-writes");
        control = ConnectInBackground(options, "-leases");
        // Over TLS every read and write stays with the library, which holds the TLS settings.
        blockConnections = options.Ssl ? null : new RedisBlockConnections(options.User, options.Password);
    }

    /// <summary>Block reads received straight into the caller's buffers, on this store's own connections.</summary>
    internal long DirectReads => Interlocked.Read(ref directReads);

    /// <summary>Block reads the library made: over TLS, before it connected, or after a node answered with an error (a slot that moved).</summary>
    internal long LibraryReads => Interlocked.Read(ref libraryReads);

    /// <summary>Block writes sent straight from the caller's buffers, on this store's own connections.</summary>
    internal long DirectWrites => Interlocked.Read(ref directWrites);

    /// <summary>Block writes the library made: over TLS, before it connected, or after a node answered with an error.</summary>
    internal long LibraryWrites => Interlocked.Read(ref libraryWrites);

    private Task<ConnectionMultiplexer> ConnectInBackground(ConfigurationOptions shared, string role) => Task.Run(async () =>
    {
        var options = shared.Clone();
        options.ClientName = shared.ClientName + role;
        var connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        connection.ConnectionFailed += (_, e) => LogConnectionFailed(logger, e.EndPoint?.ToString(), e.FailureType.ToString());
        connection.ConnectionRestored += (_, e) => LogConnectionRestored(logger, e.EndPoint?.ToString());
        return connection;
    });

    public string Engine => "redis";

    public bool IsConnected => IsUp(reads) && IsUp(writes) && IsUp(control);

    private static bool IsUp(Task<ConnectionMultiplexer> connection) => connection.IsCompletedSuccessfully && connection.Result.IsConnected;

    /// <summary>Seed endpoints, credentials and TLS from the config; <c>user</c>/<c>password</c> come from env var values.</summary>
    public static ConfigurationOptions CreateOptions(IEnumerable<string> endpoints, string? user, string? password, bool tls, TimeSpan timeout)
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            User = user,
            Password = password,
            Ssl = tls,
            ConnectTimeout = 5_000,
            ConnectRetry = 1,
            // Our own per-call timeout is shorter; this only bounds what the client keeps queued while reconnecting.
            AsyncTimeout = (int)Math.Max(timeout.TotalMilliseconds * 4, 1_000),
            SyncTimeout = (int)Math.Max(timeout.TotalMilliseconds * 4, 1_000),
            // Commands issued while a node is unreachable fail at once instead of waiting in a backlog: a miss now
            // beats a block that arrives after the remote would have answered.
            BacklogPolicy = BacklogPolicy.FailFast,
            KeepAlive = 30,
        };
        foreach (var endpoint in endpoints)
        {
            options.EndPoints.Add(endpoint);
        }

        return options;
    }

    public async Task<IMemoryOwner<byte>?> GetAsync(string key, int maxLength, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(reads, cancellationToken).ConfigureAwait(false);
        if (database is null)
        {
            return null;
        }

        var lease = await database.StringGetLeaseAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (lease is not null && lease.Length > maxLength)
        {
            lease.Dispose();
            return null;
        }

        return lease;
    }

    public async Task<StoredValue> ReadIntoAsync(string key, Memory<byte> header, Memory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        if (DirectNode(reads, key) is { } node)
        {
            if (await blockConnections!.ReadAsync(node, key, header, payload, maxLength, cancellationToken).ConfigureAwait(false) is { } value)
            {
                Interlocked.Increment(ref directReads);
                return value;
            }
        }

        // The library follows MOVED and ASK, and refreshes its view of the cluster on the way.
        Interlocked.Increment(ref libraryReads);
        return StoredValue.WholeOrAbsent(await GetAsync(key, maxLength, cancellationToken).ConfigureAwait(false));
    }

    public async Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(writes, cancellationToken).ConfigureAwait(false) ?? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected yet");
        await database.StringSetAsync(key, value).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteFromAsync(string key, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (DirectNode(writes, key) is { } node)
        {
            if (await blockConnections!.WriteAsync(node, key, header, payload, cancellationToken).ConfigureAwait(false))
            {
                Interlocked.Increment(ref directWrites);
                return;
            }
        }

        // The library follows MOVED and ASK; it needs the value in one piece.
        Interlocked.Increment(ref libraryWrites);
        await ISharedTierStore.SetJoinedAsync(this, key, header, payload, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The node that owns <paramref name="key"/> in <paramref name="client"/>'s current view of the cluster, for a block
    /// moved over our own connections; null when those are off (TLS) or the client is not connected.
    /// </summary>
    private EndPoint? DirectNode(Task<ConnectionMultiplexer> client, string key) =>
        blockConnections is not null && client.IsCompletedSuccessfully && client.Result.IsConnected
            ? client.Result.GetServer((RedisKey)key).EndPoint
            : null;

    public async Task<bool?> TryCreateAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(control, cancellationToken).ConfigureAwait(false);
        if (database is null)
        {
            return null;
        }

        // SET key value NX PX lifetime: atomic on the key's node, so exactly one pod of the cluster wins.
        if (await database.StringSetAsync(key, value, lifetime, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        return await HoldsAsync(database, key, value, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteIfValueAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(control, cancellationToken).ConfigureAwait(false);
        if (database is null)
        {
            return;
        }

        // GET then DEL, not a script: Garnet runs Lua only when started with --lua. The gap between the two can at worst
        // delete a lease that expired and was taken again meanwhile, which costs one duplicate remote fetch, never bytes.
        if (await HoldsAsync(database, key, value, cancellationToken).ConfigureAwait(false))
        {
            await database.KeyDeleteAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> TryExtendAsync(string key, ReadOnlyMemory<byte> value, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(control, cancellationToken).ConfigureAwait(false);
        if (database is null)
        {
            return false;
        }

        // GET then PEXPIRE, for the reason DeleteIfValueAsync gives: at worst it stretches a lease that changed hands in
        // between, which makes that lease's waiters wait for a fill that is coming anyway.
        return await HoldsAsync(database, key, value, cancellationToken).ConfigureAwait(false)
            && await database.KeyExpireAsync(key, lifetime).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when <paramref name="key"/> holds exactly <paramref name="value"/> (this pod's lease).</summary>
    private static async Task<bool> HoldsAsync(IDatabase database, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var current = await database.StringGetAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
        return current.HasValue && ((ReadOnlyMemory<byte>)current).Span.SequenceEqual(value.Span);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(reads).ConfigureAwait(false);
        await CloseAsync(writes).ConfigureAwait(false);
        await CloseAsync(control).ConfigureAwait(false);
        if (blockConnections is not null)
        {
            await blockConnections.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task CloseAsync(Task<ConnectionMultiplexer> connecting)
    {
        try
        {
            var connection = await connecting.ConfigureAwait(false);
            await connection.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            connection.Dispose();
        }
#pragma warning disable CA1031 // a client that never connected has nothing to close, whatever it failed with
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static async ValueTask<IDatabase?> DatabaseAsync(Task<ConnectionMultiplexer> connecting, CancellationToken cancellationToken)
    {
        if (!connecting.IsCompleted)
        {
            return null;
        }

        var connection = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        return connection.GetDatabase();
    }

    [LoggerMessage(EventId = EventIds.SharedTierConnectFailed, Level = LogLevel.Warning, Message = "Shared tier: connection to {Endpoint} failed ({Failure}); reads miss the tier until it is back")]
    private static partial void LogConnectionFailed(ILogger logger, string? endpoint, string failure);

    [LoggerMessage(EventId = EventIds.SharedTierConnectRestored, Level = LogLevel.Information, Message = "Shared tier: connection to {Endpoint} restored")]
    private static partial void LogConnectionRestored(ILogger logger, string? endpoint);
}
