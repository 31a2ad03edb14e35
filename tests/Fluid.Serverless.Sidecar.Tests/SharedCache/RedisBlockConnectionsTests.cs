using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Sidecar.Cache.SharedTier;

namespace Fluid.Serverless.Sidecar.Tests.SharedCache;

/// <summary>
/// The RESP exchanges of the tier's block reads and writes, against a scripted server that sends each reply in pieces of a
/// chosen size (one byte at a time, too). The real engines (a Redis Cluster, Garnet, redis-server with requirepass)
/// are in the integration project; this small fake exists because no real engine can be made to split its replies,
/// or to answer wrongly, on demand.
/// </summary>
public sealed class RedisBlockConnectionsTests
{
    private const int HeaderLength = 48;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public async Task ValueOfExactlyHeaderPlusPayload_LandsInPlace_WhateverPiecesItArrivesIn(int piece)
    {
        var value = Value(HeaderLength + 5000, seed: 1);
        await using var server = new ScriptedServer(piece, Bulk(value), Bulk(value));
        await using var reads = new RedisBlockConnections(null, null);

        for (var round = 0; round < 2; round++)
        {
            var (header, payload) = (new byte[HeaderLength], new byte[5000]);
            var read = await reads.ReadAsync(server.EndPoint, "fluid/blk/k", header, payload, HeaderLength + 5000, CancellationToken.None);
            Assert.Equal(StoredValueKind.InPlace, read?.Kind);
            Assert.Equal(value, header.Concat(payload));
        }

        Assert.Equal(1, server.Connections);
        Assert.Equal(new[] { "GET", "fluid/blk/k" }, server.Commands[0]);
    }

    [Fact]
    public async Task NullAndErrorReplies_AbsentAndHandedBack_ConnectionKept()
    {
        await using var server = new ScriptedServer(3, "$-1\r\n"u8.ToArray(), "-MOVED 1234 127.0.0.1:7001\r\n"u8.ToArray(), Bulk(Value(HeaderLength + 10, 2)));
        await using var reads = new RedisBlockConnections(null, null);
        var (header, payload) = (new byte[HeaderLength], new byte[10]);

        Assert.Equal(StoredValueKind.Absent, (await reads.ReadAsync(server.EndPoint, "k", header, payload, 100, CancellationToken.None))?.Kind);
        Assert.Null(await reads.ReadAsync(server.EndPoint, "k", header, payload, 100, CancellationToken.None));
        Assert.Equal(StoredValueKind.InPlace, (await reads.ReadAsync(server.EndPoint, "k", header, payload, 100, CancellationToken.None))?.Kind);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task ValueOfAnotherLength_ComesBackWhole()
    {
        var value = Value(30, 3);
        await using var server = new ScriptedServer(4, Bulk(value));
        await using var reads = new RedisBlockConnections(null, null);

        var read = await reads.ReadAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[10], 100, CancellationToken.None);
        Assert.Equal(StoredValueKind.Whole, read?.Kind);
        using var whole = read!.Value.Value!;
        Assert.Equal(value, whole.Memory.ToArray());
    }

    [Fact]
    public async Task ValueLongerThanAskedFor_AbsentWithoutReadingIt_AndTheConnectionIsNotReused()
    {
        await using var server = new ScriptedServer(1 << 20, Bulk(Value(500, 4)), Bulk(Value(HeaderLength + 10, 5)));
        await using var reads = new RedisBlockConnections(null, null);
        var (header, payload) = (new byte[HeaderLength], new byte[10]);

        Assert.Equal(StoredValueKind.Absent, (await reads.ReadAsync(server.EndPoint, "k", header, payload, HeaderLength + 10, CancellationToken.None))?.Kind);
        Assert.Equal(StoredValueKind.InPlace, (await reads.ReadAsync(server.EndPoint, "k", header, payload, HeaderLength + 10, CancellationToken.None))?.Kind);
        Assert.Equal(2, server.Connections);
    }

    [Theory]
    [InlineData("$10\r\n0123456789XX", "CRLF")]
    [InlineData("$10\r\n01234", "closed the connection")]
    [InlineData("+OK\r\n", "expected a bulk string")]
    [InlineData("$1x\r\n", "bulk length")]
    public async Task MalformedOrCutReply_IsAnError_NeverAValue(string reply, string expected)
    {
        await using var server = new ScriptedServer(5, Encoding.ASCII.GetBytes(reply));
        await using var reads = new RedisBlockConnections(null, null);

        var error = await Assert.ThrowsAsync<IOException>(() => reads.ReadAsync(server.EndPoint, "k", new byte[4], new byte[6], 100, CancellationToken.None));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_EachConnectionAuthenticatesFirst_AndARefusalNamesTheEngine()
    {
        await using (var server = new ScriptedServer(2, "+OK\r\n"u8.ToArray(), Bulk(Value(HeaderLength + 1, 6))))
        await using (var reads = new RedisBlockConnections("sidecar", "s3cret"))
        {
            var read = await reads.ReadAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[1], 100, CancellationToken.None);
            Assert.Equal(StoredValueKind.InPlace, read?.Kind);
            Assert.Equal(new[] { "AUTH", "sidecar", "s3cret" }, server.Commands[0]);
        }

        await using (var server = new ScriptedServer(2, "-WRONGPASS invalid username-password pair\r\n"u8.ToArray()))
        await using (var reads = new RedisBlockConnections(null, "wrong"))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => reads.ReadAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[1], 100, CancellationToken.None));
            Assert.Contains("refused AUTH: -WRONGPASS", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100_000)]
    public async Task Write_SendsHeaderThenPayloadAsOneValue_AndAnOkKeepsTheConnection(int piece)
    {
        await using var server = new ScriptedServer(piece, "+OK\r\n"u8.ToArray(), "+OK\r\n"u8.ToArray(), "$-1\r\n"u8.ToArray());
        await using var connections = new RedisBlockConnections(null, null);
        var (header, payload) = (Value(HeaderLength, 7), Value(300_000, 8));

        for (var round = 0; round < 2; round++)
        {
            Assert.True(await connections.WriteAsync(server.EndPoint, "fluid/blk/k", header, payload, CancellationToken.None));
        }

        Assert.Equal(1, server.Connections);
        Assert.Equal(["SET", "fluid/blk/k"], server.Commands[1][..2]);
        Assert.Equal(Convert.ToHexString(SHA256.HashData([.. header, .. payload])), Convert.ToHexString(SHA256.HashData(Encoding.Latin1.GetBytes(server.Commands[1][2]))));
    }

    [Fact]
    public async Task Write_ErrorReplyIsFalse_ForTheLibraryToFollow_AndTheConnectionIsKept()
    {
        await using var server = new ScriptedServer(2, "-MOVED 1234 127.0.0.1:7001\r\n"u8.ToArray(), "+OK\r\n"u8.ToArray(), "$-1\r\n"u8.ToArray());
        await using var connections = new RedisBlockConnections(null, null);

        Assert.False(await connections.WriteAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[10], CancellationToken.None));
        Assert.True(await connections.WriteAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[10], CancellationToken.None));
        Assert.Equal(1, server.Connections);
    }

    [Theory]
    [InlineData("$-1\r\n", "expected +OK or an error")]
    [InlineData("+QUEUED\r\n", "expected +OK or an error")]
    [InlineData("+O", "closed the connection")]
    public async Task Write_UnexpectedOrCutReply_IsAnError_NeverStored(string reply, string expected)
    {
        await using var server = new ScriptedServer(1, Encoding.ASCII.GetBytes(reply));
        await using var connections = new RedisBlockConnections(null, null);

        var error = await Assert.ThrowsAsync<IOException>(() => connections.WriteAsync(server.EndPoint, "k", new byte[HeaderLength], new byte[10], CancellationToken.None));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static byte[] Value(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Bulk(byte[] value) => [.. Encoding.ASCII.GetBytes($"${value.Length}\r\n"), .. value, .. "\r\n"u8];

    /// <summary>
    /// Answers each command it reads with the next scripted reply, written <c>piece</c> bytes at a time, and closes the
    /// connection after the last one.
    /// </summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly Queue<byte[]> replies;
        private readonly int piece;
        private readonly CancellationTokenSource stop = new();
        private readonly Task serving;
        private int connections;

        public ScriptedServer(int piece, params byte[][] replies)
        {
            this.piece = piece;
            this.replies = new Queue<byte[]>(replies);
            listener.Start();
            serving = ServeAsync();
        }

        public EndPoint EndPoint => listener.LocalEndpoint;

        public int Connections => Volatile.Read(ref connections);

        public List<string[]> Commands { get; } = [];

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    var client = await listener.AcceptTcpClientAsync(stop.Token);
                    Interlocked.Increment(ref connections);
                    _ = AnswerAsync(client);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task AnswerAsync(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                var reader = new RespCommandReader(stream);
                try
                {
                    while (await reader.ReadCommandAsync(stop.Token) is { } command)
                    {
                        byte[] reply;
                        lock (replies)
                        {
                            Commands.Add(command);
                            if (!replies.TryDequeue(out reply!))
                            {
                                return;
                            }
                        }

                        for (var sent = 0; sent < reply.Length; sent += piece)
                        {
                            await stream.WriteAsync(reply.AsMemory(sent, Math.Min(piece, reply.Length - sent)), stop.Token);
                            await stream.FlushAsync(stop.Token);
                        }

                        lock (replies)
                        {
                            if (replies.Count == 0)
                            {
                                // The script is over: a reply cut short ends here, as an engine that died would.
                                return;
                            }
                        }
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    // The reader closed the connection, or the test ended.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Stop();
            await serving;
            stop.Dispose();
        }
    }

    /// <summary>
    /// Reads RESP arrays of bulk strings byte by byte, as the tier sends them (a SET's value is binary and may hold
    /// CRLFs); each argument comes back as Latin-1 text, one char per byte.
    /// </summary>
    private sealed class RespCommandReader(Stream stream)
    {
        private readonly byte[] one = new byte[1];

        public async Task<string[]?> ReadCommandAsync(CancellationToken cancellationToken)
        {
            var header = await ReadLineAsync(cancellationToken);
            if (header is null)
            {
                return null;
            }

            var arguments = new string[int.Parse(header[1..], System.Globalization.CultureInfo.InvariantCulture)];
            for (var i = 0; i < arguments.Length; i++)
            {
                var length = int.Parse((await ReadLineAsync(cancellationToken))![1..], System.Globalization.CultureInfo.InvariantCulture);
                var bytes = new byte[length + 2];
                await stream.ReadExactlyAsync(bytes, cancellationToken);
                arguments[i] = Encoding.Latin1.GetString(bytes, 0, length);
            }

            return arguments;
        }

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            while (await stream.ReadAsync(one, cancellationToken) == 1)
            {
                if (one[0] == (byte)'\n' && line.Length > 0 && line[^1] == '\r')
                {
                    return line.ToString(0, line.Length - 1);
                }

                line.Append((char)one[0]);
            }

            return null;
        }
    }
}
