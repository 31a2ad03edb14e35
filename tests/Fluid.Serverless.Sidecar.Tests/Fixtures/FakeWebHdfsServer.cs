using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// A FAKE WebHDFS server (there is no HDFS on this machine): the subset of the WebHDFS REST protocol the source uses,
/// over a local directory, as a Hadoop 3 namenode answers it — GETFILESTATUS, LISTSTATUS, LISTSTATUS_BATCH (paged by
/// <see cref="BatchSize"/>, or refused like older namenodes), OPEN answered with a 307 redirect to a "datanode" path
/// that serves offset/length, RemoteException JSON errors, and injectable StandbyException answers. It checks that
/// user.name is sent. Kept small on purpose; the protocol shapes follow the Hadoop WebHDFS REST documentation.
/// </summary>
public sealed class FakeWebHdfsServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Dictionary<string, long> fileIds = new(StringComparer.Ordinal);
    private int standbyAnswers;
    private int requestCount;

    private FakeWebHdfsServer(WebApplication app, string root)
    {
        this.app = app;
        Root = root;
    }

    /// <summary>The local directory that is HDFS "/".</summary>
    public string Root { get; }

    public string Endpoint { get; private set; } = "";

    public int BatchSize { get; set; } = 2;

    public bool SupportsBatchListing { get; set; } = true;

    public string ExpectedUser { get; set; } = "fluid";

    public List<string> Operations { get; } = [];

    public int RequestCount => Volatile.Read(ref requestCount);

    public static async Task<FakeWebHdfsServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeWebHdfsServer(app, Directory.CreateTempSubdirectory("webhdfs-").FullName);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    /// <summary>The next <paramref name="count"/> requests answer 403 StandbyException (an HA namenode failing over).</summary>
    public void AnswerStandby(int count) => Interlocked.Exchange(ref standbyAnswers, count);

    public string Write(string hdfsPath, byte[] content)
    {
        var path = Path.Join(Root, hdfsPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        lock (fileIds)
        {
            // HDFS gives a rewritten (deleted and created) file a new inode id.
            fileIds[hdfsPath.TrimStart('/')] = fileIds.Count + 16386;
        }

        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref requestCount);
        var request = context.Request;
        if (request.Path.StartsWithSegments("/datanode", out var datanodePath))
        {
            await ServeDatanodeAsync(context, datanodePath.Value ?? "/");
            return;
        }

        if (!request.Path.StartsWithSegments("/webhdfs/v1", out var remaining))
        {
            await RemoteExceptionAsync(context, 404, "FileNotFoundException", "no such endpoint");
            return;
        }

        var hdfsPath = Uri.UnescapeDataString(remaining.Value ?? "/");
        var op = request.Query["op"].ToString();
        lock (Operations)
        {
            Operations.Add(op);
        }

        if (Interlocked.Decrement(ref standbyAnswers) >= 0)
        {
            await RemoteExceptionAsync(context, 403, "StandbyException", "Operation category READ is not supported in state standby");
            return;
        }

        if (request.Query["user.name"].ToString() != ExpectedUser)
        {
            await RemoteExceptionAsync(context, 401, "SecurityException", "Failed to obtain user group information: user.name missing");
            return;
        }

        var local = Path.Join(Root, hdfsPath);
        switch (op)
        {
            case "GETFILESTATUS":
                if (!File.Exists(local) && !Directory.Exists(local))
                {
                    await RemoteExceptionAsync(context, 404, "FileNotFoundException", $"File does not exist: {hdfsPath}");
                    return;
                }

                await JsonAsync(context, writer =>
                {
                    writer.WritePropertyName("FileStatus");
                    WriteStatus(writer, local, hdfsPath, "");
                });
                return;
            case "LISTSTATUS" or "LISTSTATUS_BATCH":
                if (op == "LISTSTATUS_BATCH" && !SupportsBatchListing)
                {
                    await RemoteExceptionAsync(context, 400, "IllegalArgumentException", "Invalid value for webhdfs parameter \"op\": No enum constant LISTSTATUS_BATCH");
                    return;
                }

                if (!Directory.Exists(local))
                {
                    await RemoteExceptionAsync(context, 404, "FileNotFoundException", $"File {hdfsPath} does not exist.");
                    return;
                }

                await ListAsync(context, local, hdfsPath, op == "LISTSTATUS_BATCH");
                return;
            case "OPEN":
                if (!File.Exists(local))
                {
                    await RemoteExceptionAsync(context, 404, "FileNotFoundException", $"File does not exist: {hdfsPath}");
                    return;
                }

                // A namenode never serves data: it redirects to a datanode holding the block.
                context.Response.StatusCode = 307;
                context.Response.Headers.Location = $"{Endpoint}/datanode{remaining.Value}{request.QueryString}";
                return;
            default:
                await RemoteExceptionAsync(context, 400, "IllegalArgumentException", $"Invalid value for webhdfs parameter \"op\": {op}");
                return;
        }
    }

    private async Task ListAsync(HttpContext context, string local, string hdfsPath, bool batch)
    {
        // HDFS lists names in byte order of their UTF-8 encoding.
        var names = Directory.EnumerateFileSystemEntries(local).Select(Path.GetFileName).Select(n => n!).ToList();
        names.Sort((a, b) => System.Text.Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(b)));
        var startAfter = context.Request.Query["startAfter"].ToString();
        if (batch && startAfter.Length > 0)
        {
            names = names.SkipWhile(n => System.Text.Encoding.UTF8.GetBytes(n).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(startAfter)) <= 0).ToList();
        }

        var page = batch ? names.Take(BatchSize).ToList() : names;
        await JsonAsync(context, writer =>
        {
            if (batch)
            {
                writer.WriteStartObject("DirectoryListing");
                writer.WriteStartObject("partialListing");
            }

            writer.WriteStartObject("FileStatuses");
            writer.WriteStartArray("FileStatus");
            foreach (var name in page)
            {
                WriteStatus(writer, Path.Join(local, name), hdfsPath.TrimEnd('/') + "/" + name, name);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            if (batch)
            {
                writer.WriteEndObject();
                writer.WriteNumber("remainingEntries", names.Count - page.Count);
                writer.WriteEndObject();
            }
        });
    }

    private void WriteStatus(Utf8JsonWriter writer, string local, string hdfsPath, string pathSuffix)
    {
        var isDirectory = Directory.Exists(local);
        long fileId;
        lock (fileIds)
        {
            fileId = fileIds.TryGetValue(hdfsPath.TrimStart('/'), out var id) ? id : 16385;
        }

        writer.WriteStartObject();
        writer.WriteString("pathSuffix", pathSuffix);
        writer.WriteString("type", isDirectory ? "DIRECTORY" : "FILE");
        writer.WriteNumber("length", isDirectory ? 0 : new FileInfo(local).Length);
        writer.WriteNumber("modificationTime", new DateTimeOffset(File.GetLastWriteTimeUtc(local)).ToUnixTimeMilliseconds());
        writer.WriteNumber("fileId", fileId);
        writer.WriteString("owner", "fluid");
        writer.WriteString("group", "supergroup");
        writer.WriteString("permission", isDirectory ? "755" : "644");
        writer.WriteNumber("replication", isDirectory ? 0 : 3);
        writer.WriteNumber("blockSize", isDirectory ? 0 : 134217728);
        writer.WriteEndObject();
    }

    private async Task ServeDatanodeAsync(HttpContext context, string hdfsPath)
    {
        var local = Path.Join(Root, Uri.UnescapeDataString(hdfsPath));
        var content = await File.ReadAllBytesAsync(local);
        var offset = long.Parse(context.Request.Query["offset"].ToString() is { Length: > 0 } o ? o : "0", CultureInfo.InvariantCulture);
        var length = context.Request.Query["length"].ToString() is { Length: > 0 } l ? long.Parse(l, CultureInfo.InvariantCulture) : content.Length - offset;
        length = Math.Min(length, content.Length - offset);
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = length;
        await context.Response.Body.WriteAsync(content.AsMemory((int)offset, (int)length));
    }

    private static Task RemoteExceptionAsync(HttpContext context, int status, string exception, string message)
    {
        context.Response.StatusCode = status;
        return JsonAsync(context, writer =>
        {
            writer.WriteStartObject("RemoteException");
            writer.WriteString("exception", exception);
            writer.WriteString("javaClassName", exception == "FileNotFoundException" ? "java.io.FileNotFoundException" : "org.apache.hadoop." + exception);
            writer.WriteString("message", message);
            writer.WriteEndObject();
        });
    }

    private static async Task JsonAsync(HttpContext context, Action<Utf8JsonWriter> body)
    {
        context.Response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(buffer.ToArray());
    }
}
