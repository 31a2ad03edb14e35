using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>A real S3-compatible server on 127.0.0.1 used as a remote, with helpers to seed it through AWSSDK.S3.</summary>
public abstract class S3RemoteFixture : IAsyncLifetime
{
    private ServerProcess? server;
    private AmazonS3Client? client;
    private int bucketCounter;

    public int Port { get; private set; }

    /// <summary>http://127.0.0.1:port</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    public abstract string AccessKey { get; }

    public abstract string SecretKey { get; }

    /// <summary>A path-style client with checksums only where required (what S3-compatible servers accept).</summary>
    public AmazonS3Client Client => client ?? throw new InvalidOperationException("fixture not started");

    public async Task InitializeAsync()
    {
        Port = FreePort.Next();
        server = await StartAsync(Port);
        client = CreateClient();
    }

    public async Task DisposeAsync()
    {
        client?.Dispose();
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        await CleanupAsync();
    }

    /// <summary>Removes what <see cref="StartAsync"/> created besides the process (data directories).</summary>
    protected virtual Task CleanupAsync() => Task.CompletedTask;

    public AmazonS3Client CreateClient() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        MaxErrorRetry = 0,
    });

    /// <summary>Creates a bucket with a fresh name (tests sharing the fixture never see each other's data).</summary>
    public async Task<string> CreateBucketAsync(string hint = "b")
    {
        var name = $"{hint}-{Interlocked.Increment(ref bucketCounter)}-{Guid.NewGuid():N}"[..Math.Min(40, hint.Length + 34)].ToLowerInvariant().TrimEnd('-');
        await Client.PutBucketAsync(new PutBucketRequest { BucketName = name });
        return name;
    }

    public async Task PutAsync(string bucket, string key, byte[] content)
    {
        using var body = new MemoryStream(content);
        await Client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = body, UseChunkEncoding = false });
    }

    protected abstract Task<ServerProcess> StartAsync(int port);
}
