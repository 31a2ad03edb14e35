using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>
/// The real sidecar host (CreateSlimBuilder → AddFluidSidecar → MapFluidSidecar, real Kestrel on 127.0.0.1:0 for
/// both listeners, the real block cache and object reader, metadata cache, prefetch) over a temp directory dataset
/// "data", a writable dataset "scratch", and "broken" whose remote is down. Only the source factory is a test
/// stand-in (see <see cref="DirectoryTestSource"/>): a naive directory reader, so traversal tests prove the S3 layer.
/// </summary>
public sealed class TestSidecar : IAsyncDisposable
{
    public const string Bucket = "data";
    public const string WritableBucket = "scratch";
    public const string BrokenBucket = "broken";
    public const string SecretText = "TOP-SECRET-OUTSIDE-THE-DATASET";

    /// <summary>Keys of the "data" dataset and their bytes.</summary>
    public static readonly IReadOnlyDictionary<string, byte[]> Files = CreateFiles();

    private readonly WebApplication _app;

    private TestSidecar(WebApplication app, string root, string dataDirectory)
    {
        _app = app;
        Root = root;
        DataDirectory = dataDirectory;
        var listeners = app.Services.GetRequiredService<SidecarListeners>();
        S3Port = listeners.S3Port;
        AdminPort = listeners.AdminPort;
        AdminLocalPort = listeners.AdminLocalPort;
    }

    public string Root { get; }
    public string DataDirectory { get; }
    public int S3Port { get; }
    public int AdminPort { get; }
    public Uri S3Endpoint => new($"http://127.0.0.1:{S3Port}");
    public int AdminLocalPort { get; }

    /// <summary>The probe listener: /healthz, /readyz, /metrics.</summary>
    public Uri AdminEndpoint => new($"http://127.0.0.1:{AdminPort}");

    /// <summary>The loopback admin API: everything, /status, /prefetch and /quitquitquit included.</summary>
    public Uri AdminLocalEndpoint => new($"http://127.0.0.1:{AdminLocalPort}");
    public IServiceProvider Services => _app.Services;

    public static async Task<TestSidecar> StartAsync(string adminAddress = "127.0.0.1")
    {
        var root = Directory.CreateTempSubdirectory("sidecar-s3api-tests-").FullName;
        var data = Path.Combine(root, "datasets", "data");
        foreach (var (key, bytes) in Files)
        {
            var path = Path.Combine(data, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }

        // Things a traversal would reach: a sibling of the dataset and a file next to the datasets directory.
        Directory.CreateDirectory(Path.Combine(root, "datasets", "outside"));
        File.WriteAllText(Path.Combine(root, "datasets", "outside", "secret.txt"), SecretText);
        File.WriteAllText(Path.Combine(root, "datasets", "secret.txt"), SecretText);
        var scratch = Directory.CreateDirectory(Path.Combine(root, "datasets", "scratch")).FullName;
        File.WriteAllText(Path.Combine(scratch, "keep.txt"), "keep");

        var config = new SidecarConfig
        {
            S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
            Admin = new AdminEndpointConfig { Address = adminAddress, Port = 0, LocalPort = 0 },
            Cache = new CacheConfig { Directory = Path.Combine(root, "cache") },
            Datasets =
            [
                new DatasetConfig { Name = Bucket, Source = "local://" + data },
                new DatasetConfig { Name = WritableBucket, Source = "local://" + scratch, ReadOnly = false },
                new DatasetConfig { Name = BrokenBucket, Source = "broken://remote" },
            ],
        };

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<ISourceFactory, TestSourceFactory>();
        builder.AddFluidSidecar(config, "test fixture");
        var app = builder.Build();
        app.MapFluidSidecar();
        await app.StartAsync();
        return new TestSidecar(app, root, data);
    }

    public AmazonS3Client CreateS3Client(bool pathStyle = true) => new(
        new BasicAWSCredentials("x", "x"),
        new AmazonS3Config
        {
            ServiceURL = S3Endpoint.ToString(),
            ForcePathStyle = pathStyle,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    public HttpClient CreateHttpClient() => new() { BaseAddress = S3Endpoint };

    /// <summary>Sends bytes exactly as given (no URL normalization) and returns the raw response text.</summary>
    public async Task<RawResponse> SendRawAsync(string requestHead)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", S3Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(requestHead));
        using var reader = new MemoryStream();
        await stream.CopyToAsync(reader);
        return RawResponse.Parse(reader.ToArray());
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }

    private static Dictionary<string, byte[]> CreateFiles()
    {
        var random = new Random(1234);
        var big = new byte[3 * 1024 * 1024 + 17];
        random.NextBytes(big);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["hello.txt"] = "hello, sidecar\n"u8.ToArray(),
            ["empty.txt"] = [],
            ["blobs/big.bin"] = big,
            ["dir with space/file name.txt"] = "spaces\n"u8.ToArray(),
            ["unicode/ünïcødé-文件.txt"] = "unicode\n"u8.ToArray(),
            ["plus/a+b.txt"] = "plus\n"u8.ToArray(),
            ["percent/100%.txt"] = "percent\n"u8.ToArray(),
            ["special/&<>\"'.txt"] = "xml specials\n"u8.ToArray(),
            ["deep/a/b/c/d/e/f.txt"] = "deep\n"u8.ToArray(),
        };
        for (var i = 0; i < 25; i++)
        {
            files[$"list/k{i:D3}"] = Encoding.UTF8.GetBytes($"item {i}\n");
        }

        files["list/sub/x"] = "x"u8.ToArray();
        files["list/sub/y"] = "y"u8.ToArray();
        return files;
    }
}

/// <summary>One HTTP/1.1 response read off a raw socket.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public static RawResponse Parse(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = headEnd < 0 ? text : text[..headEnd];
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        return new RawResponse(status, headers, headEnd < 0 ? "" : text[(headEnd + 4)..]);
    }
}

/// <summary>One sidecar per test class (start-up is the expensive part).</summary>
public sealed class SidecarFixture : IAsyncLifetime
{
    public TestSidecar Sidecar { get; private set; } = null!;

    public async Task InitializeAsync() => Sidecar = await TestSidecar.StartAsync();

    public async Task DisposeAsync() => await Sidecar.DisposeAsync();
}
