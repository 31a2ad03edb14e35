using System.Net;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Tests.ProcessLevel;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Auth;

/// <summary>
/// A sidecar process in the default posture with moto behind it: "writable" is a writable dataset over moto's
/// "posture-data", "other-bucket" is not a dataset and goes to the upstream (moto) with the sidecar's credentials.
/// </summary>
public sealed class DefaultPostureEnvironment : IAsyncLifetime
{
    public const string Dataset = "writable";
    public const string RemoteBucket = "posture-data";
    public const string OtherBucket = "other-bucket";

    public MotoProcess Moto { get; private set; } = null!;
    public SidecarProcess Sidecar { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Moto = await MotoProcess.StartAsync();
        using (var s3 = Moto.CreateClient())
        {
            await s3.PutBucketAsync(RemoteBucket);
            await s3.PutBucketAsync(OtherBucket);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = RemoteBucket, Key = "hello.txt", ContentBody = "hello" });
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = RemoteBucket, Key = "keep.txt", ContentBody = "keep" });
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = OtherBucket, Key = "upstream.txt", ContentBody = "upstream" });
        }

        var environment = new Dictionary<string, string>(Moto.ClientEnvironment)
        {
            ["FLUID_TEST_UPSTREAM_KEY"] = MotoProcess.AccessKey,
            ["FLUID_TEST_UPSTREAM_SECRET"] = MotoProcess.SecretKey,
        };
        Sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets = [TestDatasets.S3(Dataset, RemoteBucket, Moto.Endpoint) with { ReadOnly = false }],
                Upstream = new UpstreamConfig
                {
                    Endpoint = Moto.Endpoint.ToString(),
                    Region = MotoProcess.Region,
                    AccessKeyIdEnv = "FLUID_TEST_UPSTREAM_KEY",
                    SecretAccessKeyEnv = "FLUID_TEST_UPSTREAM_SECRET",
                },
            },
            environment);
    }

    public async Task DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Moto.DisposeAsync();
    }

    public async Task<bool> RemoteHasAsync(string bucket, string key)
    {
        using var s3 = Moto.CreateClient();
        try
        {
            await s3.GetObjectMetadataAsync(bucket, key);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}

/// <summary>
/// The default posture with real clients: unsigned writes, deletes and passthrough requests are refused with 403
/// AccessDenied before they reach the remote; the same requests signed with any key pass; unsigned reads of datasets pass.
/// </summary>
public sealed class DefaultPostureProcessTests(DefaultPostureEnvironment environment) : IClassFixture<DefaultPostureEnvironment>
{
    private string Endpoint => environment.Sidecar.S3Endpoint.ToString().TrimEnd('/');

    [Fact]
    public async Task Curl_UnsignedPutDeleteAndPassthrough_AccessDenied_UnsignedGetServed()
    {
        var put = await Curl("-X", "PUT", "--data-binary", "x", $"{Endpoint}/{DefaultPostureEnvironment.Dataset}/curl-put.txt");
        var delete = await Curl("-X", "DELETE", $"{Endpoint}/{DefaultPostureEnvironment.Dataset}/keep.txt");
        var passthrough = await Curl($"{Endpoint}/{DefaultPostureEnvironment.OtherBucket}/upstream.txt");
        var read = await Curl($"{Endpoint}/{DefaultPostureEnvironment.Dataset}/hello.txt");

        foreach (var refused in new[] { put, delete, passthrough })
        {
            Assert.EndsWith("\n403\n", refused.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("<Code>AccessDenied</Code>", refused.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("any access key and secret work", refused.StandardOutput, StringComparison.Ordinal);
        }

        Assert.Equal("hello\n200\n", read.StandardOutput);
        Assert.False(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "curl-put.txt"));
        Assert.True(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "keep.txt"));
    }

    [Fact]
    public async Task AwsCliV2_NoSignRequestPutRefused_AnyKeyPutAndGetPass()
    {
        var file = Path.Combine(environment.Sidecar.WorkDirectory, "cli-upload.txt");
        await File.WriteAllTextAsync(file, "from aws-cli v2");
        var unsigned = await AwsCli(anyKey: false, "s3api", "put-object", "--bucket", DefaultPostureEnvironment.Dataset, "--key", "cli/unsigned.txt", "--body", file, "--no-sign-request");
        var signed = await AwsCli(anyKey: true, "s3api", "put-object", "--bucket", DefaultPostureEnvironment.Dataset, "--key", "cli/signed.txt", "--body", file);
        var passthrough = await AwsCli(anyKey: true, "s3", "cp", $"s3://{DefaultPostureEnvironment.OtherBucket}/upstream.txt", "-");
        var unsignedRead = await AwsCli(anyKey: false, "s3", "cp", $"s3://{DefaultPostureEnvironment.Dataset}/hello.txt", "-", "--no-sign-request");

        Assert.NotEqual(0, unsigned.ExitCode);
        Assert.Contains("AccessDenied", unsigned.StandardError, StringComparison.Ordinal);
        Assert.False(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "cli/unsigned.txt"));
        Assert.True(signed.ExitCode == 0, signed.ToString());
        Assert.True(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "cli/signed.txt"));
        Assert.True(passthrough.ExitCode == 0, passthrough.ToString());
        Assert.Equal("upstream\n", passthrough.StandardOutput);
        Assert.True(unsignedRead.ExitCode == 0, unsignedRead.ToString());
        Assert.Equal("hello\n", unsignedRead.StandardOutput);
    }

    [Fact]
    public async Task Boto3_UnsignedDeleteRefused_AnyKeyDeletePasses()
    {
        using (var moto = environment.Moto.CreateClient())
        {
            await moto.PutObjectAsync(new PutObjectRequest { BucketName = DefaultPostureEnvironment.RemoteBucket, Key = "boto/victim.txt", ContentBody = "v" });
        }

        var script = """
            import sys, boto3, botocore
            from botocore.config import Config
            unsigned = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", config=Config(signature_version=botocore.UNSIGNED))
            try:
                unsigned.delete_object(Bucket=sys.argv[2], Key="boto/victim.txt")
                print("unsigned delete passed")
            except botocore.exceptions.ClientError as e:
                print("unsigned", e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
            signed = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="whatever", aws_secret_access_key="anything")
            signed.delete_object(Bucket=sys.argv[2], Key="boto/victim.txt")
            print("signed deleted")
            """;
        var run = await CommandRunner.RunAsync("python3", ["-c", script, Endpoint, DefaultPostureEnvironment.Dataset], NoAwsEnvironment());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("unsigned 403 AccessDenied\nsigned deleted\n", run.StandardOutput);
        Assert.False(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "boto/victim.txt"));
    }

    [Fact]
    public async Task AwsSdk_AnyKey_WritesAndPassthroughPass()
    {
        using var s3 = new AmazonS3Client(
            new BasicAWSCredentials("app-only-key", "app-only-secret"),
            new AmazonS3Config { ServiceURL = Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = DefaultPostureEnvironment.Dataset, Key = "sdk/put.txt", ContentBody = "sdk" });
        using var upstream = await s3.GetObjectAsync(DefaultPostureEnvironment.OtherBucket, "upstream.txt");
        using var reader = new StreamReader(upstream.ResponseStream);

        Assert.True(await environment.RemoteHasAsync(DefaultPostureEnvironment.RemoteBucket, "sdk/put.txt"));
        Assert.Equal("upstream", await reader.ReadToEndAsync());
    }

    private static Task<CommandRunner.Result> Curl(params string[] arguments) =>
        CommandRunner.RunAsync("curl", ["-sS", "-w", "\n%{http_code}", .. arguments]);

    private Task<CommandRunner.Result> AwsCli(bool anyKey, params string[] arguments)
    {
        var env = NoAwsEnvironment();
        if (anyKey)
        {
            env["AWS_ACCESS_KEY_ID"] = "any-key";
            env["AWS_SECRET_ACCESS_KEY"] = "any-secret";
        }

        return CommandRunner.RunAsync("/usr/bin/aws", ["--endpoint-url", Endpoint, .. arguments], env);
    }

    /// <summary>Nothing from the test process's environment decides how the clients sign.</summary>
    internal static Dictionary<string, string?> NoAwsEnvironment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = null,
        ["AWS_SECRET_ACCESS_KEY"] = null,
        ["AWS_SESSION_TOKEN"] = null,
        ["AWS_PROFILE"] = null,
        ["AWS_ENDPOINT_URL"] = null,
        ["AWS_ENDPOINT_URL_S3"] = null,
        ["AWS_SHARED_CREDENTIALS_FILE"] = null,
        ["AWS_CONFIG_FILE"] = "/dev/null",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_DEFAULT_REGION"] = "us-east-1",
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };
}

/// <summary>
/// The strict posture as a process: the sidecar generates pod-local credentials at start and writes them as a shared
/// credentials file before it turns ready; clients that use the file read and write; any other key, and no signature,
/// get 403.
/// </summary>
public sealed class StrictPostureProcessTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task GeneratedCredentialsFile_ClientsUsingItPass_OtherKeysAndUnsignedAreRefused()
    {
        await using var moto = await MotoProcess.StartAsync();
        using (var s3 = moto.CreateClient())
        {
            await s3.PutBucketAsync("strict-data");
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = "strict-data", Key = "hello.txt", ContentBody = "hello" });
        }

        var shared = Directory.CreateTempSubdirectory("fluid-strict-creds-").FullName;
        var credentialsFile = Path.Combine(shared, "aws", "credentials");
        await using var sidecar = await SidecarProcess.StartAsync(
            new SidecarConfig
            {
                Datasets = [TestDatasets.S3("strict", "strict-data", moto.Endpoint) with { ReadOnly = false }],
                Credentials = new PodCredentialsConfig { GeneratedFile = credentialsFile },
            },
            moto.ClientEnvironment);
        var endpoint = sidecar.S3Endpoint.ToString().TrimEnd('/');

        // Ready means the file is there.
        var text = await File.ReadAllTextAsync(credentialsFile);
        Assert.StartsWith("[default]\naws_access_key_id = FSL", text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(credentialsFile));

        var env = DefaultPostureProcessTests.NoAwsEnvironment();
        env["AWS_SHARED_CREDENTIALS_FILE"] = credentialsFile;
        var upload = Path.Combine(shared, "upload.txt");
        await File.WriteAllTextAsync(upload, "written with the file's key");
        var put = await CommandRunner.RunAsync("/usr/bin/aws", ["--endpoint-url", endpoint, "s3", "cp", upload, "s3://strict/cli/put.txt"], env);
        var get = await CommandRunner.RunAsync("/usr/bin/aws", ["--endpoint-url", endpoint, "s3", "cp", "s3://strict/cli/put.txt", "-"], env);
        var read = await CommandRunner.RunAsync("/usr/bin/aws", ["--endpoint-url", endpoint, "s3", "cp", "s3://strict/hello.txt", "-"], env);

        Assert.True(put.ExitCode == 0, put.ToString());
        // CommandRunner collects output by lines: each ends with a newline.
        Assert.Equal("written with the file's key\n", get.StandardOutput);
        Assert.Equal("hello\n", read.StandardOutput);

        var script = """
            import sys, boto3, botocore
            from botocore.config import Config
            def attempt(name, client):
                try:
                    client.get_object(Bucket="strict", Key="hello.txt")["Body"].read()
                    print(name, "passed")
                except botocore.exceptions.ClientError as e:
                    print(name, e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
            attempt("file", boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1"))
            attempt("other-key", boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIAOTHER", aws_secret_access_key="other"))
            attempt("unsigned", boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", config=Config(signature_version=botocore.UNSIGNED)))
            """;
        var boto = await CommandRunner.RunAsync("python3", ["-c", script, endpoint], env);
        Assert.True(boto.ExitCode == 0, boto.ToString());
        Assert.Equal("file passed\nother-key 403 InvalidAccessKeyId\nunsigned 403 AccessDenied\n", boto.StandardOutput);

        // The right key id with a wrong secret: the signature does not match.
        var keyId = text.Split('\n')[1].Split(" = ")[1];
        using var wrongSecret = new AmazonS3Client(
            new BasicAWSCredentials(keyId, "not-the-secret"),
            new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => wrongSecret.GetObjectAsync("strict", "hello.txt"));
        Assert.Equal("SignatureDoesNotMatch", error.ErrorCode);

        // A restarted sidecar keeps the credentials the app has read.
        sidecar.Kill();
        await sidecar.RestartAsync();
        Assert.Equal(text, await File.ReadAllTextAsync(credentialsFile));
    }
}

/// <summary>
/// Live reload cannot widen the admitted config: a sidecar process whose config file is rewritten to point its dataset
/// at a path it was not admitted with keeps the old config, reports why in /status, and keeps serving the old source.
/// The test rewrites the JSON config file (the annotations file goes through the same watcher, validator and guard).
/// </summary>
public sealed class ReloadGuardProcessTests
{
    [Fact]
    public async Task WideningEdit_RejectedInStatus_OldSourceStillServes()
    {
        var root = Directory.CreateTempSubdirectory("fluid-reload-guard-").FullName;
        var admitted = Directory.CreateDirectory(Path.Combine(root, "admitted")).FullName;
        await File.WriteAllTextAsync(Path.Combine(admitted, "a.txt"), "admitted bytes");
        var elsewhere = Directory.CreateDirectory(Path.Combine(root, "elsewhere")).FullName;
        await File.WriteAllTextAsync(Path.Combine(elsewhere, "a.txt"), "bytes from a path never mounted");

        await using var sidecar = await SidecarProcess.StartAsync(new SidecarConfig
        {
            Datasets = [new DatasetConfig { Name = "data", Source = "local://" + admitted }],
        });
        var current = JsonSerializer.Deserialize(await File.ReadAllTextAsync(sidecar.ConfigPath), ContractsJsonContext.Default.SidecarConfig)!;
        var widened = current with { Datasets = [new DatasetConfig { Name = "data", Source = "local://" + elsewhere }] };
        await File.WriteAllTextAsync(sidecar.ConfigPath, JsonSerializer.Serialize(widened, ContractsJsonContext.Default.SidecarConfig));

        using var http = new HttpClient();
        string status;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            status = await http.GetStringAsync(new Uri(sidecar.AdminLocalEndpoint, "/status"));
        }
        while (!status.Contains("widens", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(60));

        using var document = JsonDocument.Parse(status);
        var reload = document.RootElement.GetProperty("configReload");
        Assert.Contains($"datasets[0].source: 'local://{elsewhere}' is not under a local source the pod was admitted with", reload.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, reload.GetProperty("generation").GetInt64());
        Assert.Equal("admitted bytes", await http.GetStringAsync(new Uri(sidecar.S3Endpoint, "/data/a.txt")));
        var metrics = await http.GetStringAsync(new Uri(sidecar.AdminEndpoint, "/metrics"));
        // At least the refused edit; the watcher may also have read the file half-written (a second, parse failure):
        // kubelet swaps its file atomically, this test's WriteAllText does not.
        var failures = System.Text.RegularExpressions.Regex.Match(metrics, @"^fluid_sidecar_config_reload_failures_total (\d+)$", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(failures.Success && long.Parse(failures.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 1, metrics);
    }
}
