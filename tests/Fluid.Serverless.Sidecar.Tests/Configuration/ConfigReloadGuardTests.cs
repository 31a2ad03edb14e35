using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

/// <summary>Each way a live reload could widen what the pod was admitted with is refused, with the field and the reason.</summary>
public sealed class ConfigReloadGuardTests
{
    private static readonly SidecarConfig Admitted = new()
    {
        Datasets =
        [
            new DatasetConfig
            {
                Name = "models",
                Source = "s3://models/v1",
                Options = new Dictionary<string, string> { ["endpoint"] = "https://minio.data:9000" },
                SecretOptions = new Dictionary<string, string> { ["accessKeyId"] = "FLUID_SECRET_0_KEY", ["secretAccessKey"] = "FLUID_SECRET_0_SECRET" },
            },
            new DatasetConfig { Name = "scratch", Source = "local:///mnt/scratch" },
            new DatasetConfig { Name = "nas", Source = "nfs://nas.local/export/models" },
        ],
        Upstream = new UpstreamConfig { Endpoint = "https://s3.amazonaws.com", AccessKeyIdEnv = "FLUID_UPSTREAM_KEY", SecretAccessKeyEnv = "FLUID_UPSTREAM_SECRET" },
        Credentials = new PodCredentialsConfig { GeneratedFile = SidecarDefaults.GeneratedCredentialsFile },
        SharedCache = new SharedCacheConfig { Endpoints = ["redis:6379"] },
    };

    private static readonly ConfigReloadGuard Guard = new(Admitted);

    [Fact]
    public void SameConfig_AndRemoteSourceSwitches_Pass()
    {
        var switched = Admitted with
        {
            Datasets =
            [
                Admitted.Datasets[0] with { Source = "s3://models/v2" },
                Admitted.Datasets[1] with { Source = "local:///mnt/scratch/sub" },
                Admitted.Datasets[2],
                new DatasetConfig { Name = "public", Source = "https://huggingface.co/datasets/x/resolve/main/" },
            ],
            Prefetch = new PrefetchConfig { Workers = 4 },
        };

        Assert.Empty(Guard.Check(Admitted));
        Assert.Empty(Guard.Check(switched));
    }

    [Fact]
    public void SecretOptions_NamingAnEnvVarNotAdmitted_Rejected()
    {
        var next = WithDataset(0, d => d with { SecretOptions = new Dictionary<string, string> { ["accessKeyId"] = "FLUID_UPSTREAM_KEY" } });

        var error = Assert.Single(Guard.Check(next));
        Assert.Equal("datasets[0].secretOptions.accessKeyId: 'FLUID_UPSTREAM_KEY' is not an env var the pod was admitted with: expected one of the admitted secretOptions (FLUID_SECRET_0_KEY, FLUID_SECRET_0_SECRET)", error);
    }

    [Fact]
    public void SecretOptions_SentToAnotherEndpoint_Rejected()
    {
        var next = WithDataset(0, d => d with { Options = new Dictionary<string, string> { ["endpoint"] = "https://attacker.example" } });

        var errors = Guard.Check(next);
        Assert.Equal(2, errors.Count);
        Assert.Contains("datasets[0].secretOptions.accessKeyId: 'FLUID_SECRET_0_KEY' would be sent to s3:// at endpoint 'https://attacker.example': expected a destination it was admitted with (s3:// at endpoint 'https://minio.data:9000')", errors);
    }

    [Theory]
    [InlineData("local:///etc")]
    [InlineData("local:///mnt/scratch-other")]
    [InlineData("local:///")]
    public void LocalSource_OutsideTheAdmittedPaths_Rejected(string source)
    {
        var next = WithDataset(1, d => d with { Source = source });

        var error = Assert.Single(Guard.Check(next));
        Assert.StartsWith($"datasets[1].source: '{source}' is not under a local source the pod was admitted with: expected a path under local:///mnt/scratch", error, StringComparison.Ordinal);
    }

    [Fact]
    public void LocalSource_WithANewHostPath_Rejected()
    {
        var next = WithDataset(1, d => d with { Options = new Dictionary<string, string> { ["hostPath"] = "/var/lib/kubelet" } });

        Assert.Contains("is not under a local source the pod was admitted with", Assert.Single(Guard.Check(next)), StringComparison.Ordinal);
    }

    [Fact]
    public void RemoteDataset_SwitchedToLocalOrNfs_Rejected()
    {
        var toLocal = WithDataset(0, d => d with { Source = "local:///var/run/secrets", SecretOptions = new Dictionary<string, string>() });
        var toNfs = WithDataset(0, d => d with { Source = "nfs://nas.local/export/models", SecretOptions = new Dictionary<string, string>() });

        Assert.Contains("is not under a local source the pod was admitted with", Assert.Single(Guard.Check(toLocal)), StringComparison.Ordinal);
        Assert.Equal(
            "datasets[0].source: 'nfs://nas.local/export/models' (dataset 'models') is not an NFS export the pod was admitted with: expected one of nas=nfs://nas.local/export/models (a new export needs a new volume: recreate the pod)",
            Assert.Single(Guard.Check(toNfs)));
    }

    [Fact]
    public void NfsSource_ToAnotherExport_Rejected()
    {
        var next = WithDataset(2, d => d with { Source = "nfs://other.nas/export" });

        Assert.Contains("is not an NFS export the pod was admitted with", Assert.Single(Guard.Check(next)), StringComparison.Ordinal);
    }

    [Fact]
    public void Upstream_Changed_Rejected()
    {
        var next = Admitted with { Upstream = Admitted.Upstream! with { Endpoint = "https://attacker.example" } };

        var error = Assert.Single(Guard.Check(next));
        Assert.StartsWith("upstream: changed from {\"endpoint\":\"https://s3.amazonaws.com\"", error, StringComparison.Ordinal);
        Assert.EndsWith("expected it unchanged (fixed at admission; recreate the pod to change it)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_Removed_Rejected()
    {
        var error = Assert.Single(Guard.Check(Admitted with { Credentials = null }));

        Assert.StartsWith("credentials: changed from {\"accessKeyId\":\"\",\"secretAccessKeyEnv\":\"\",\"generatedFile\":\"/var/run/fluid-serverless/aws/credentials\"} to none", error, StringComparison.Ordinal);
    }

    [Fact]
    public void SharedCache_Changed_Rejected()
    {
        var next = Admitted with { SharedCache = new SharedCacheConfig { Endpoints = ["attacker:6379"] } };

        Assert.StartsWith("sharedCache: changed from", Assert.Single(Guard.Check(next)), StringComparison.Ordinal);
    }

    [Fact]
    public void Listeners_Changed_Rejected()
    {
        var next = Admitted with
        {
            S3 = new EndpointConfig { Address = "0.0.0.0", Port = SidecarDefaults.S3Port },
            Admin = new AdminEndpointConfig { Address = SidecarDefaults.AdminAddress, Port = 17999 },
        };

        Assert.Equal(
            [
                "s3: changed from 127.0.0.1:17480 to 0.0.0.0:17480: expected it unchanged (fixed at admission; recreate the pod to change it)",
                "admin: changed from 0.0.0.0:17481, 127.0.0.1:17482 to 0.0.0.0:17999, 127.0.0.1:17482: expected it unchanged (fixed at admission; recreate the pod to change it)",
            ],
            Guard.Check(next));
    }

    private static SidecarConfig WithDataset(int index, Func<DatasetConfig, DatasetConfig> change) =>
        Admitted with { Datasets = [.. Admitted.Datasets.Select((d, i) => i == index ? change(d) : d)] };
}
