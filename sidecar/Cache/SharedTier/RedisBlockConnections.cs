using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fluid.Serverless.Sidecar.Cache.SharedTier;

/// <summary>
/// Block values moved with plain RESP <c>GET</c>s and <c>SET</c>s on connections of our own, one request at a time per
/// connection: a reply's bulk string is received straight into the caller's header and block buffers, and a value is
/// sent straight from them. StackExchange.Redis stays the client for everything else (topology, redirections, leases)
/// and names the node that owns each key; this only moves the bytes. Why, for reads: the library receives a 4 MiB value
/// into its pipe and copies it into a lease, and the tier copied it again into the block buffer, which cost 1.4–2.3 s of
/// CPU per GiB against 0.55–0.75 s for a receive straight into place. Why, for writes: the library needs the value in
/// one piece (a block plus its header, so a buffer no pool has), and its per-node queue keeps references to the last
/// values it sent for as long as it has no newer ones, which kept a burst's 4 MiB values resident after the burst
/// (figures for both: sidecar/Cache/SharedTier/README.md).
/// Any reply other than the one expected (MOVED and ASK while a slot moves, LOADING, NOAUTH…) comes back as null or
/// false: the caller asks the library, which knows what to do with it. A connection whose exchange did not end cleanly
/// (a timeout, a cancellation, an I/O error, a value longer than asked for) is closed, never reused.
/// </summary>
internal sealed class RedisBlockConnections(string? user, string? password) : IAsyncDisposable
{
    /// <summary>
    /// Idle connections kept per node: enough for the block reads and the writers the tier has in flight per pod
    /// (4 of each by default), so that neither opens a connection per block.
    /// </summary>
    private const int IdlePerNode = 8;

    private readonly ConcurrentDictionary<EndPoint, ConcurrentBag<Connection>> idle = new();
    private int disposed;

    /// <summary>
    /// <c>GET <paramref name="key"/></c> on <paramref name="node"/>: the value (in place when it is exactly
    /// <paramref name="header"/> + <paramref name="payload"/> long), absent, or null when the node answered with an error.
    /// </summary>
    public Task<StoredValue?> ReadAsync(EndPoint node, string key, Memory<byte> header, Memory<byte> payload, int maxLength, CancellationToken cancellationToken) =>
        ExchangeAsync(node, connection => connection.GetAsync(key, header, payload, maxLength, cancellationToken), cancellationToken);

    /// <summary>
    /// <c>SET <paramref name="key"/></c> to <paramref name="header"/> then <paramref name="payload"/> on
    /// <paramref name="node"/>: true when stored, false when the node answered with an error.
    /// </summary>
    public async Task<bool> WriteAsync(EndPoint node, string key, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        await ExchangeAsync(node, connection => connection.SetAsync(key, header, payload, cancellationToken), cancellationToken).ConfigureAwait(false) == true;

    /// <summary>One request on an idle connection to <paramref name="node"/>, or on a new one.</summary>
    private async Task<T> ExchangeAsync<T>(EndPoint node, Func<Connection, Task<(T Result, bool Reusable)>> exchange, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        if (TakeIdle(node) is { } pooled)
        {
            try
            {
                return await ExchangeOnAsync(node, pooled, exchange).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException && !cancellationToken.IsCancellationRequested)
            {
                // The engine may have closed it while it sat idle (a restart, or its idle-client `timeout`): one more
                // try on a new connection, so that does not count as a failing tier. A SET sent again is harmless: it
                // stores the same bytes.
            }
        }

        var connection = await Connection.OpenAsync(node, user, password, cancellationToken).ConfigureAwait(false);
        return await ExchangeOnAsync(node, connection, exchange).ConfigureAwait(false);
    }

    private async Task<T> ExchangeOnAsync<T>(EndPoint node, Connection connection, Func<Connection, Task<(T Result, bool Reusable)>> exchange)
    {
        var reusable = false;
        try
        {
            var (result, clean) = await exchange(connection).ConfigureAwait(false);
            reusable = clean;
            return result;
        }
        finally
        {
            if (reusable)
            {
                ReturnIdle(node, connection);
            }
            else
            {
                connection.Dispose();
            }
        }
    }

    private Connection? TakeIdle(EndPoint node) =>
        idle.TryGetValue(node, out var connections) && connections.TryTake(out var connection) ? connection : null;

    private void ReturnIdle(EndPoint node, Connection connection)
    {
        var connections = idle.GetOrAdd(node, static _ => []);
        if (Volatile.Read(ref disposed) != 0 || connections.Count >= IdlePerNode)
        {
            connection.Dispose();
            return;
        }

        connections.Add(connection);
        // Disposal may have drained the bag between the check and the add.
        if (Volatile.Read(ref disposed) != 0 && connections.TryTake(out var late))
        {
            late.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            foreach (var connections in idle.Values)
            {
                while (connections.TryTake(out var connection))
                {
                    connection.Dispose();
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>One TCP connection to one node, used by one request at a time.</summary>
    private sealed class Connection : IDisposable
    {
        private static readonly byte[] CrlfBytes = "\r\n"u8.ToArray();

        /// <summary>Commands out, and a reply's first line in (with whatever of the value came with it).</summary>
        private readonly byte[] scratch = new byte[1024];
        private readonly Socket socket;

        private Connection(Socket socket) => this.socket = socket;

        public static async Task<Connection> OpenAsync(EndPoint node, string? user, string? password, CancellationToken cancellationToken)
        {
            var connection = new Connection(new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
            try
            {
                await connection.socket.ConnectAsync(node, cancellationToken).ConfigureAwait(false);
                if (password is not null)
                {
                    await connection.AuthenticateAsync(user, password, cancellationToken).ConfigureAwait(false);
                }

                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        private async Task AuthenticateAsync(string? user, string password, CancellationToken cancellationToken)
        {
            await SendAsync(user is null ? ["AUTH", password] : ["AUTH", user, password], cancellationToken).ConfigureAwait(false);
            var (lineEnd, _) = await ReceiveLineAsync(cancellationToken).ConfigureAwait(false);
            if (!scratch.AsSpan(0, lineEnd).SequenceEqual("+OK"u8))
            {
                throw new InvalidOperationException($"the tier engine refused AUTH: {Encoding.UTF8.GetString(scratch, 0, lineEnd)}");
            }
        }

        /// <summary>The value and whether the connection can serve the next request; null value = an error reply.</summary>
        public async Task<(StoredValue? Value, bool Reusable)> GetAsync(string key, Memory<byte> header, Memory<byte> payload, int maxLength, CancellationToken cancellationToken)
        {
            await SendAsync(["GET", key], cancellationToken).ConfigureAwait(false);
            var (lineEnd, filled) = await ReceiveLineAsync(cancellationToken).ConfigureAwait(false);
            var early = filled - (lineEnd + 2);
            switch (scratch[0])
            {
                case (byte)'-':
                    return (null, early == 0);
                case (byte)'$':
                    break;
                default:
                    throw new IOException($"the tier engine answered GET with '{(char)scratch[0]}', expected a bulk string or an error");
            }

            if (!Utf8Parser.TryParse(scratch.AsSpan(1, lineEnd - 1), out int length, out var consumed) || consumed != lineEnd - 1 || length < -1)
            {
                throw new IOException($"the tier engine sent a bulk length of '{Encoding.ASCII.GetString(scratch, 1, lineEnd - 1)}'");
            }

            if (length == -1)
            {
                return (StoredValue.Absent, early == 0);
            }

            if (length > maxLength)
            {
                // Not worth reading to keep the connection: it is closed instead.
                return (StoredValue.Absent, false);
            }

            var inPlace = length == header.Length + payload.Length;
            var whole = inPlace ? null : new PooledValue(length) { Length = length };
            try
            {
                var (first, second) = inPlace ? (header, payload) : (whole!.Memory, Memory<byte>.Empty);
                await ReceiveValueAsync(first, second, length, scratch.AsMemory(lineEnd + 2, early), cancellationToken).ConfigureAwait(false);
                return (inPlace ? StoredValue.InPlace : StoredValue.Whole(whole!), true);
            }
            catch
            {
                whole?.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Sends <c>SET key</c> with <paramref name="header"/> and <paramref name="payload"/> as one bulk string, each
        /// from where it lies; true when the engine answered <c>+OK</c>, null for an error reply.
        /// </summary>
        public async Task<(bool? Stored, bool Reusable)> SetAsync(string key, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            var length = header.Length + payload.Length;
            var keyLength = Encoding.UTF8.GetByteCount(key);
            var prefixLength = 48 + keyLength + header.Length;
            var rented = prefixLength > scratch.Length ? ArrayPool<byte>.Shared.Rent(prefixLength) : null;
            try
            {
                // The command up to the value's first bytes in one send, then the block from its own buffer.
                var buffer = rented ?? scratch;
                var written = Header(buffer, (byte)'*', 3);
                written += Argument(buffer.AsSpan(written), "SET");
                written += Argument(buffer.AsSpan(written), key);
                written += Header(buffer.AsSpan(written), (byte)'$', length);
                header.Span.CopyTo(buffer.AsSpan(written));
                written += header.Length;
                await SendAllAsync(buffer.AsMemory(0, written), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            await SendAllAsync(payload, cancellationToken).ConfigureAwait(false);
            await SendAllAsync(CrlfBytes, cancellationToken).ConfigureAwait(false);

            var (lineEnd, filled) = await ReceiveLineAsync(cancellationToken).ConfigureAwait(false);
            var clean = filled == lineEnd + 2;
            switch (scratch[0])
            {
                case (byte)'+' when scratch.AsSpan(0, lineEnd).SequenceEqual("+OK"u8):
                    return (true, clean);
                case (byte)'-':
                    return (null, clean);
                default:
                    throw new IOException($"the tier engine answered SET with '{Encoding.UTF8.GetString(scratch, 0, Math.Min(lineEnd, 64))}', expected +OK or an error");
            }
        }

        /// <summary>
        /// The <paramref name="length"/> bytes of a bulk string into <paramref name="first"/> then <paramref name="second"/>,
        /// then its closing CRLF; <paramref name="early"/> holds the bytes that arrived with the reply's first line.
        /// </summary>
        private async Task ReceiveValueAsync(Memory<byte> first, Memory<byte> second, int length, ReadOnlyMemory<byte> early, CancellationToken cancellationToken)
        {
            Memory<byte> At(int position) => position < first.Length ? first[position..] : second[(position - first.Length)..];

            var position = 0;
            while (position < length && !early.IsEmpty)
            {
                var into = At(position);
                var count = Math.Min(into.Length, early.Length);
                early.Span[..count].CopyTo(into.Span);
                early = early[count..];
                position += count;
            }

            while (position < length)
            {
                position += await ReceiveSomeAsync(At(position), cancellationToken).ConfigureAwait(false);
            }

            // The CRLF after the value: part of it may have come early.
            var trailer = scratch.AsMemory(0, 2);
            early.CopyTo(trailer);
            var got = early.Length;
            while (got < 2)
            {
                got += await ReceiveSomeAsync(trailer[got..], cancellationToken).ConfigureAwait(false);
            }

            if (!trailer.Span.SequenceEqual("\r\n"u8))
            {
                throw new IOException("the tier engine's bulk string did not end with CRLF");
            }
        }

        /// <summary>
        /// Receives until <see cref="scratch"/> holds a whole first line: its CRLF starts at the returned index, and
        /// <c>filled</c> bytes arrived in all (a reply ends at its last byte: no other reply can follow it here).
        /// </summary>
        private async Task<(int LineEnd, int Filled)> ReceiveLineAsync(CancellationToken cancellationToken)
        {
            var filled = 0;
            while (true)
            {
                filled += await ReceiveSomeAsync(scratch.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                var lineEnd = scratch.AsSpan(0, filled).IndexOf("\r\n"u8);
                if (lineEnd > 0)
                {
                    return (lineEnd, filled);
                }

                if (filled == scratch.Length || lineEnd == 0)
                {
                    throw new IOException($"the tier engine sent a reply line that is empty or longer than {scratch.Length} bytes");
                }
            }
        }

        private async ValueTask<int> ReceiveSomeAsync(Memory<byte> into, CancellationToken cancellationToken)
        {
            var received = await socket.ReceiveAsync(into, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return received > 0 ? received : throw new IOException("the tier engine closed the connection mid-reply");
        }

        /// <summary>Sends one command as a RESP array of bulk strings.</summary>
        private async Task SendAsync(string[] arguments, CancellationToken cancellationToken)
        {
            var size = 16;
            foreach (var argument in arguments)
            {
                size += Encoding.UTF8.GetByteCount(argument) + 16;
            }

            var rented = size > scratch.Length ? ArrayPool<byte>.Shared.Rent(size) : null;
            try
            {
                var buffer = rented ?? scratch;
                var written = Encode(buffer, arguments);
                await SendAllAsync(buffer.AsMemory(0, written), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        private async Task SendAllAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            while (!bytes.IsEmpty)
            {
                bytes = bytes[await socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false)..];
            }
        }

        private static int Encode(Span<byte> buffer, string[] arguments)
        {
            var written = Header(buffer, (byte)'*', arguments.Length);
            foreach (var argument in arguments)
            {
                written += Argument(buffer[written..], argument);
            }

            return written;
        }

        /// <summary>One argument of a command as a RESP bulk string.</summary>
        private static int Argument(Span<byte> buffer, string argument)
        {
            var written = Header(buffer, (byte)'$', Encoding.UTF8.GetByteCount(argument));
            written += Encoding.UTF8.GetBytes(argument, buffer[written..]);
            return written + Crlf(buffer[written..]);
        }

        private static int Header(Span<byte> buffer, byte kind, int count)
        {
            buffer[0] = kind;
            Utf8Formatter.TryFormat(count, buffer[1..], out var digits);
            return 1 + digits + Crlf(buffer[(1 + digits)..]);
        }

        private static int Crlf(Span<byte> buffer)
        {
            buffer[0] = (byte)'\r';
            buffer[1] = (byte)'\n';
            return 2;
        }

        public void Dispose() => socket.Dispose();
    }
}
