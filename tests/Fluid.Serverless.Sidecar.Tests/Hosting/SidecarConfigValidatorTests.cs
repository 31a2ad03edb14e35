using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

public sealed class SidecarConfigValidatorTests
{
    private static SidecarConfig WithDatasets(params DatasetConfig[] datasets) => new() { Datasets = datasets };

    [Fact]
    public void Validate_DefaultsWithOneLocalDataset_HasNoErrors()
    {
        Assert.Empty(SidecarConfigValidator.Validate(WithDatasets(new DatasetConfig { Name = "demo", Source = "local:///data" })));
    }

    [Fact]
    public void Validate_GeneratedCredentials_AbsoluteFileAndNotMixedWithGivenKeys()
    {
        Assert.Empty(SidecarConfigValidator.Validate(new SidecarConfig { Credentials = new PodCredentialsConfig { GeneratedFile = SidecarDefaults.GeneratedCredentialsFile } }));

        var relative = SidecarConfigValidator.Validate(new SidecarConfig { Credentials = new PodCredentialsConfig { GeneratedFile = "aws/../credentials" } });
        var mixed = SidecarConfigValidator.Validate(new SidecarConfig { Credentials = new PodCredentialsConfig { GeneratedFile = "/run/aws/credentials", AccessKeyId = "AKIA" } });

        Assert.Equal("credentials.generatedFile: 'aws/../credentials' is not an absolute file path without '.' or '..' segments: expected e.g. /var/run/fluid-serverless/aws/credentials", Assert.Single(relative));
        Assert.Equal("credentials: generatedFile is set together with accessKeyId/secretAccessKeyEnv: expected either generated credentials (generatedFile) or given ones (accessKeyId and secretAccessKeyEnv)", Assert.Single(mixed));
    }

    [Fact]
    public void Validate_FuseWriteBack_DefaultsPassAndOutOfRangeValuesAreNamed()
    {
        Assert.Empty(SidecarConfigValidator.Validate(new SidecarConfig { Fuse = new FuseConfig { WriteBack = new FuseWriteBackConfig() } }));

        var errors = SidecarConfigValidator.Validate(new SidecarConfig { Fuse = new FuseConfig { WriteBack = new FuseWriteBackConfig { DelaySeconds = -1, MaxBacklogBytes = -5 } } });

        Assert.Equal(
            ["fuse.writeBack.delaySeconds: '-1' is out of range: expected 0-3600", "fuse.writeBack.maxBacklogBytes: '-5' is negative: expected a byte count >= 0 (0 = every close waits for its upload)"],
            errors);
    }

    [Fact]
    public void Validate_BadBucketName_NamesFieldValueAndExpectation()
    {
        var errors = SidecarConfigValidator.Validate(WithDatasets(
            new DatasetConfig { Name = "good-one", Source = "s3://bucket/prefix" },
            new DatasetConfig { Name = "Bad_Name", Source = "s3://bucket/prefix" }));

        Assert.Equal(["datasets[1].name: 'Bad_Name' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.'"], errors);
    }

    [Fact]
    public void Validate_GatewayOfAReadOnlyDataset_HasNoErrors()
    {
        var dataset = new DatasetConfig
        {
            Name = "imagenet",
            Source = "s3://imagenet-bucket/train",
            Gateway = new DatasetGatewayConfig
            {
                Source = "s3://train",
                Options = new Dictionary<string, string> { ["endpoint"] = "http://imagenet-master-0.cached:39999/api/v1/s3", ["pathStyle"] = "true" },
            },
        };

        Assert.Empty(SidecarConfigValidator.Validate(WithDatasets(dataset)));
    }

    [Fact]
    public void Validate_BadGateway_NamesEachFieldAndExpectation()
    {
        var dataset = new DatasetConfig
        {
            Name = "imagenet",
            Source = "s3://imagenet-bucket/train",
            ReadOnly = false,
            Gateway = new DatasetGatewayConfig { Source = "http://train", Options = new Dictionary<string, string> { ["endpoint"] = "imagenet-master-0:39999" } },
        };

        Assert.Equal(
            [
                "datasets[0].gateway.source: 'http://train' is not an S3 URI: expected s3://bucket/prefix",
                "datasets[0].gateway.options.endpoint: 'imagenet-master-0:39999' is not a URL: expected http(s)://host[:port][/path] of the runtime's S3 gateway",
                "datasets[0].gateway: a writable dataset cannot read through a gateway: expected readOnly true or no gateway",
            ],
            SidecarConfigValidator.Validate(WithDatasets(dataset)));
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("-abc")]
    [InlineData("abc.")]
    [InlineData("a..b")]
    [InlineData("192.168.1.1")]
    [InlineData("UPPER")]
    [InlineData("with space")]
    public void IsValidBucketName_RejectsS3InvalidNames(string name) => Assert.False(SidecarConfigValidator.IsValidBucketName(name));

    [Theory]
    [InlineData("abc")]
    [InlineData("my.data-set.2")]
    [InlineData("a23456789012345678901234567890123456789012345678901234567890123")]
    public void IsValidBucketName_AcceptsS3ValidNames(string name) => Assert.True(SidecarConfigValidator.IsValidBucketName(name));

    [Fact]
    public void Validate_EverySectionReportsItsField()
    {
        var config = new SidecarConfig
        {
            Version = 2,
            Mode = "magic",
            S3 = new EndpointConfig { Address = "localhost", Port = 70000 },
            Admin = new AdminEndpointConfig { Address = "0.0.0.0", Port = 17481 },
            Cache = new CacheConfig { Directory = "relative/dir", QuotaBytes = 0, BlockSizeBytes = 100, MetadataTtlSeconds = -1, Medium = "tape" },
            Prefetch = new PrefetchConfig { Workers = 0, BandwidthBytesPerSecond = -5 },
            VirtualHostDomains = [".bad"],
            Upstream = new UpstreamConfig { Endpoint = "ftp://x" },
            Credentials = new PodCredentialsConfig { AccessKeyId = "", SecretAccessKeyEnv = "1BAD" },
            Datasets =
            [
                new DatasetConfig { Name = "same", Source = "ftp://host/x" },
                new DatasetConfig { Name = "same", Source = "local://relative", MountPath = "/data/../etc", SecretOptions = new Dictionary<string, string> { ["secretKey"] = "not an env" }, Prefetch = [" "] },
            ],
        };

        var errors = SidecarConfigValidator.Validate(config);
        string[] expectedFields =
        [
            "version:", "mode:", "s3.address:", "s3.port:", "cache.directory:", "cache.quotaBytes:", "cache.blockSizeBytes:",
            "cache.metadataTtlSeconds:", "cache.medium:", "prefetch.workers:", "prefetch.bandwidthBytesPerSecond:",
            "datasets[0].source:", "datasets[1].name: 'same' is used by another dataset", "datasets[1].source:",
            "datasets[1].mountPath:", "datasets[1].secretOptions.secretKey:", "datasets[1].prefetch[0]:",
            "virtualHostDomains[0]:", "upstream.endpoint:", "credentials.accessKeyId:", "credentials.secretAccessKeyEnv:",
        ];
        foreach (var field in expectedFields)
        {
            Assert.Contains(errors, e => e.StartsWith(field, StringComparison.Ordinal));
        }

        Assert.Equal(expectedFields.Length, errors.Count);
    }

    [Theory]
    [InlineData(65536L, null, "cache.fetchSpanBytes: '65536' is out of range: expected cache.blockSizeBytes (4194304) to 4294967296")]
    [InlineData(8589934592L, null, "cache.fetchSpanBytes: '8589934592' is out of range: expected cache.blockSizeBytes (4194304) to 4294967296")]
    [InlineData(null, 0, "cache.readAheadStreams: '0' is out of range: expected 1-64")]
    [InlineData(null, 65, "cache.readAheadStreams: '65' is out of range: expected 1-64")]
    public void Validate_SpanOrStreamsOutOfRange_NamesFieldValueAndRange(long? fetchSpanBytes, int? readAheadStreams, string expected)
    {
        var config = WithDatasets(new DatasetConfig { Name = "demo", Source = "local:///data" });
        config.Cache = new CacheConfig { FetchSpanBytes = fetchSpanBytes, ReadAheadStreams = readAheadStreams };

        Assert.Equal([expected], SidecarConfigValidator.Validate(config));
    }

    [Theory]
    [InlineData(4194303L, "cache.readAheadMaxBytes: '4194303' is out of range: expected cache.blockSizeBytes (4194304) to 68719476736")]
    [InlineData(68719476737L, "cache.readAheadMaxBytes: '68719476737' is out of range: expected cache.blockSizeBytes (4194304) to 68719476736")]
    public void Validate_ReadAheadMaxOutOfRange_NamesFieldValueAndRange(long readAheadMaxBytes, string expected)
    {
        var config = WithDatasets(new DatasetConfig { Name = "demo", Source = "local:///data" });
        config.Cache = new CacheConfig { ReadAheadMaxBytes = readAheadMaxBytes };

        Assert.Equal([expected], SidecarConfigValidator.Validate(config));
    }

    [Fact]
    public void Validate_SpanAndStreamsAtTheirBounds_Accepted()
    {
        var config = WithDatasets(new DatasetConfig { Name = "demo", Source = "local:///data" });
        config.Cache = new CacheConfig { FetchSpanBytes = SidecarDefaults.BlockSizeBytes, ReadAheadStreams = 64 };

        Assert.Empty(SidecarConfigValidator.Validate(config));
    }

    [Fact]
    public void Validate_SameS3AndAdminPort_IsAnError()
    {
        var errors = SidecarConfigValidator.Validate(new SidecarConfig { S3 = new EndpointConfig { Port = 18000 }, Admin = new AdminEndpointConfig { Port = 18000 } });

        Assert.Equal(["admin.port: '18000' is the S3 port too: expected a different port"], errors);
    }

    [Theory]
    [InlineData(17480, "admin.localPort: '17480' is also s3.port: expected a port of its own")]
    [InlineData(17481, "admin.localPort: '17481' is also admin.port: expected a port of its own")]
    [InlineData(70000, "admin.localPort: '70000' is not a port: expected 0-65535")]
    public void Validate_AdminLocalPortClashOrOutOfRange_IsAnError(int localPort, string expected)
    {
        var errors = SidecarConfigValidator.Validate(new SidecarConfig { Admin = new AdminEndpointConfig { LocalPort = localPort } });

        Assert.Equal([expected], errors);
    }

    [Fact]
    public void Parse_AdminWithoutLocalPort_KeepsTheDefaultLoopbackPort()
    {
        var config = System.Text.Json.JsonSerializer.Deserialize("""{ "admin": { "address": "0.0.0.0", "port": 19481 } }""", ContractsJsonContext.Default.SidecarConfig)!;

        Assert.Equal(19481, config.Admin.Port);
        Assert.Equal(SidecarDefaults.AdminLocalPort, config.Admin.LocalPort);
        Assert.Empty(SidecarConfigValidator.Validate(config));
    }

    [Theory]
    [InlineData("s3://bucket/prefix")]
    [InlineData("oss://bucket/prefix")]
    [InlineData("https://host/base/")]
    [InlineData("hdfs://namenode:8020/warehouse")]
    [InlineData("webhdfs://namenode:9870/warehouse")]
    [InlineData("swebhdfs://namenode:9871/warehouse")]
    [InlineData("nfs://nas.example.com/export/path")]
    [InlineData("local:///mnt/lustre")]
    public void Validate_EverySourceTheSidecarServes_Accepted(string source)
    {
        Assert.Empty(SidecarConfigValidator.Validate(WithDatasets(new DatasetConfig { Name = "data", Source = source })));
    }

    [Theory]
    [InlineData("nfs://nas.example.com:2049/export", "names a port")]
    [InlineData("nfs://nas.example.com/", "expected nfs://server/export/path")]
    [InlineData("oss:///prefix", "names no bucket")]
    [InlineData("hdfs:///warehouse", "names no namenode")]
    [InlineData("local:///mnt/../etc", "'.' or '..' segments")]
    [InlineData("pvc://claim/path", "is not a source URI")]
    public void Validate_SourceTheSidecarCannotServe_NamesSourceAndExpectation(string source, string expected)
    {
        var error = Assert.Single(SidecarConfigValidator.Validate(WithDatasets(new DatasetConfig { Name = "data", Source = source })));

        Assert.StartsWith($"datasets[0].source: '{source}'", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nfs://nas.example.com/export", "localPath", "relative/dir")]
    [InlineData("local:///mnt/lustre", "hostPath", "mnt/lustre")]
    public void Validate_RelativeMountOption_NamesOption(string source, string option, string value)
    {
        var error = Assert.Single(SidecarConfigValidator.Validate(WithDatasets(new DatasetConfig
        {
            Name = "data",
            Source = source,
            Options = new Dictionary<string, string> { [option] = value },
        })));

        Assert.StartsWith($"datasets[0].options.{option}: '{value}'", error, StringComparison.Ordinal);
    }
}

public sealed class SharedCacheConfigValidatorTests
{
    private static IReadOnlyList<string> Validate(SharedCacheConfig sharedCache) => SidecarConfigValidator.Validate(new SidecarConfig { SharedCache = sharedCache });

    [Fact]
    public void Validate_RedisClusterAndS3Bucket_HaveNoErrors()
    {
        Assert.Empty(Validate(new SharedCacheConfig { Engine = "redis", Endpoints = ["redis-0.redis:6379", "10.0.0.7:6380", "[::1]:7000"], PasswordEnv = "TIER_PASSWORD" }));
        Assert.Empty(Validate(new SharedCacheConfig { Engine = "s3", Bucket = "fluid-cache--use1-az4--x-s3", AccessKeyIdEnv = "TIER_KEY", SecretAccessKeyEnv = "TIER_SECRET" }));
        Assert.Empty(Validate(new SharedCacheConfig { Engine = "s3", Bucket = "tier", Endpoint = "http://minio.storage:9000" }));
    }

    [Fact]
    public void Validate_BadFields_NameEachFieldValueAndExpectation()
    {
        Assert.Equal(
            ["sharedCache.engine: 'memcached' is not an engine: expected one of redis, s3"],
            Validate(new SharedCacheConfig { Engine = "memcached" }));
        Assert.Equal(
            ["sharedCache.endpoints: [] is empty: expected at least one host:port of the Redis-protocol engine"],
            Validate(new SharedCacheConfig { Engine = "redis" }));
        Assert.Equal(
            ["sharedCache.endpoints[1]: 'redis-1' is not host:port: expected e.g. redis-0.redis:6379"],
            Validate(new SharedCacheConfig { Endpoints = ["redis-0:6379", "redis-1"] }));
        Assert.Equal(
            ["sharedCache.bucket: '' is not a valid bucket name: expected 3-63 lowercase letters, digits, '-' or '.' (S3 Express names end in --x-s3)"],
            Validate(new SharedCacheConfig { Engine = "s3" }));
        Assert.Equal(
            ["sharedCache.passwordEnv: 's3cr3t!' is not an environment variable name: expected [A-Za-z_][A-Za-z0-9_]* (the name of the variable, never the secret)"],
            Validate(new SharedCacheConfig { Endpoints = ["r:1"], PasswordEnv = "s3cr3t!" }));
        Assert.Equal(
            [
                "sharedCache.timeoutMilliseconds: '0' is out of range: expected 1-60000",
                "sharedCache.leaseMilliseconds: '-1' is out of range: expected 1-600000",
                "sharedCache.maxPendingWrites: '5000' is out of range: expected 0-4096 (0 = never write to the tier)",
            ],
            Validate(new SharedCacheConfig { Endpoints = ["r:1"], TimeoutMilliseconds = 0, LeaseMilliseconds = -1, MaxPendingWrites = 5000 }));
        Assert.Equal(
            ["sharedCache.accessKeyIdEnv: set together with sharedCache.secretAccessKeyEnv: expected both or neither (neither = the SDK's default chain)"],
            Validate(new SharedCacheConfig { Engine = "s3", Bucket = "tier", AccessKeyIdEnv = "KEY" }));
    }

    [Fact]
    public void Load_SharedCacheSectionFromJson_ReadsEveryField()
    {
        const string json = """
            { "sharedCache": { "engine": "redis", "endpoints": ["127.0.0.1:7000"], "prefix": "team-a/", "passwordEnv": "P",
              "timeoutMilliseconds": 100, "leaseMilliseconds": 2000, "maxPendingWrites": 4, "tls": true } }
            """;
        var config = System.Text.Json.JsonSerializer.Deserialize(json, ContractsJsonContext.Default.SidecarConfig)!;
        Assert.Equal(
            new SharedCacheConfig { Engine = "redis", Endpoints = config.SharedCache!.Endpoints, Prefix = "team-a/", PasswordEnv = "P", TimeoutMilliseconds = 100, LeaseMilliseconds = 2000, MaxPendingWrites = 4, Tls = true },
            config.SharedCache);
        Assert.Equal(["127.0.0.1:7000"], config.SharedCache.Endpoints);
        Assert.Empty(SidecarConfigValidator.Validate(config));
    }
}
