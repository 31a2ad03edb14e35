using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.ClientInterop;

/// <summary>
/// One moto remote holding a dataset with the keys that trip clients up (multi-MiB files above the clients' multipart
/// thresholds, a space, unicode, '+', deep prefixes), served by one real sidecar process. Every client test downloads
/// through the sidecar and compares SHA-256 with the files written here.
/// </summary>
public sealed class InteropEnvironment : IAsyncLifetime
{
    /// <summary>The bucket name on the sidecar (the dataset name); the remote bucket is named differently on purpose.</summary>
    public const string Bucket = "interop";
    public const string RemoteBucket = "interop-remote";

    public const string BigKey = "big/model-8mib.bin";
    public const string SpaceKey = "big/shard 2 of 3.bin";
    public const string UnicodeKey = "unicode/données-日本語-ü.txt";
    public const string PlusKey = "plus/a+b=c.bin";
    public const string DeepKey = "deep/l1/l2/l3/l4/l5/l6/leaf.txt";
    public const string SyncPrefix = "sync/";

    /// <summary>Sizes straddle block and multipart boundaries: 8 MiB is boto3's and the aws-cli's threshold.</summary>
    private static readonly (string Key, long Size)[] Files =
    [
        (BigKey, (8 * 1024 * 1024) + 12_345),
        (SpaceKey, (6 * 1024 * 1024) + 7),
        (UnicodeKey, 10_000),
        (PlusKey, 100_000),
        (DeepKey, 1_000),
        ("sync/part-0001.bin", 9 * 1024 * 1024),
        ("sync/part-0002.bin", (9 * 1024 * 1024) + 1),
        ("sync/nested/part-0003.bin", 3 * 1024 * 1024),
        ("sync/small.txt", 100),
    ];

    private string _root = "";

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Sidecar { get; private set; } = null!;

    /// <summary>The S3 endpoint the clients talk to: the sidecar's.</summary>
    public Uri Endpoint => Sidecar.S3Endpoint;

    /// <summary>The dataset as files on disk: key = path relative to this directory.</summary>
    public string SourceDirectory => Path.Combine(_root, "source");

    /// <summary>key → SHA-256 of the source bytes.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; private set; } = new Dictionary<string, string>();

    /// <summary>A fresh empty directory for one test's downloads.</summary>
    public string NewDownloadDirectory() => Directory.CreateDirectory(Path.Combine(_root, "downloads", Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>Env for client programs: dummy credentials (the endpoint does not verify SigV4 by default), no machine AWS config.</summary>
    public Dictionary<string, string?> ClientEnvironment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = "sidecar-client",
        ["AWS_SECRET_ACCESS_KEY"] = "sidecar-client-secret",
        ["AWS_DEFAULT_REGION"] = "us-east-1",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_CONFIG_FILE"] = Path.Combine(_root, "no-aws-config"),
        ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(_root, "no-aws-credentials"),
        ["AWS_EC2_METADATA_DISABLED"] = "true",
        ["AWS_ENDPOINT_URL"] = null,
        ["AWS_ENDPOINT_URL_S3"] = null,
        ["AWS_PROFILE"] = null,
        ["AWS_PAGER"] = "",
    };

    public async Task InitializeAsync()
    {
        _root = Directory.CreateTempSubdirectory("fluid-interop-").FullName;
        try
        {
            Hashes = TestDatasets.WriteFiles(SourceDirectory, Files);
            Moto = await MotoProcess.StartAsync();
            using (var s3 = Moto.CreateClient())
            {
                await TestDatasets.UploadDirectoryAsync(s3, RemoteBucket, SourceDirectory, Hashes.Keys);
            }

            Sidecar = await SidecarProcess.StartAsync(
                new SidecarConfig { Datasets = [TestDatasets.S3(Bucket, RemoteBucket, Moto.Endpoint)] },
                Moto.ClientEnvironment);
        }
        catch
        {
            // A fixture that fails to start is not disposed by the runner: stop moto here rather than leak it.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Sidecar is not null)
        {
            await Sidecar.DisposeAsync();
        }

        if (Moto is not null)
        {
            await Moto.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Asserts every file under <paramref name="directory"/> equals the source file of the same key (under <paramref name="prefix"/>).</summary>
    public void AssertSameFiles(string directory, string prefix, int expectedCount)
    {
        var downloaded = Directory.GetFiles(directory, "*", SearchOption.AllDirectories);
        Assert.Equal(expectedCount, downloaded.Length);
        foreach (var file in downloaded)
        {
            var key = prefix + Path.GetRelativePath(directory, file).Replace(Path.DirectorySeparatorChar, '/');
            Assert.True(Hashes.TryGetValue(key, out var expected), $"downloaded {key}, which is not in the dataset");
            Assert.Equal(expected, Sha256Hex.OfFile(file));
        }
    }

    /// <summary>Keys of the dataset below a prefix.</summary>
    public IReadOnlyList<string> KeysUnder(string prefix) => Hashes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropEnvironment>
{
    public const string Name = "Client interop against a sidecar process";
}
