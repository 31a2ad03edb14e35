using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Microsoft.Extensions.Configuration;

namespace Fluid.Serverless.Injector.Tests.Policy;

/// <summary>The injector-wide shared cache tier: read from the configuration the ConfigMap sets (FLUID_INJECTOR_Injector__…
/// keys), validated at start, and applied to pods that name no tier. The per-pod and per-policy choices are golden cases.</summary>
public sealed class SharedCacheTierTests
{
    private static InjectorOptions Read(Dictionary<string, string?> values) =>
        InjectorOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("Injector"));

    private static Dictionary<string, string?> GarnetConfig() => new()
    {
        ["Injector:DefaultSharedCache"] = "garnet",
        ["Injector:SharedCacheTiers:garnet:Engine"] = "redis",
        ["Injector:SharedCacheTiers:garnet:Endpoints:0"] = "fluid-shared-cache-0.fluid-shared-cache:6379",
        ["Injector:SharedCacheTiers:garnet:Endpoints:1"] = "fluid-shared-cache-1.fluid-shared-cache:6379",
        ["Injector:SharedCacheTiers:garnet:Prefix"] = "cluster-a/",
        ["Injector:SharedCacheTiers:garnet:PasswordSecretRef:Name"] = "fluid-shared-cache",
        ["Injector:SharedCacheTiers:garnet:PasswordSecretRef:Key"] = "password",
        ["Injector:SharedCacheTiers:garnet:TimeoutMilliseconds"] = "40",
    };

    [Fact]
    public void Read_TierFromConfiguration_BecomesEveryPodsDefault()
    {
        var options = Read(GarnetConfig());
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: default}
            spec:
              mounts: [{mountPoint: "s3://imagenet-bucket"}]
            """);
        var pod = (JsonObject)YamlJson.ParseDocuments("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: train
              labels: {serverless.fluid.io/inject: "true"}
              annotations: {serverless.fluid.io/datasets: imagenet}
            spec:
              containers: [{name: app, image: python}]
            """).Single()!;

        var outcome = new PodInjector(cluster, options).Inject(pod, "default");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        var annotations = outcome.Pod!.Obj("metadata").StringMap("annotations");
        var config = JsonSerializer.Deserialize(annotations[Annotations.SidecarConfig], ContractsJsonContext.Default.SidecarConfig)!;
        Assert.Equal("redis", config.SharedCache!.Engine);
        Assert.Equal(["fluid-shared-cache-0.fluid-shared-cache:6379", "fluid-shared-cache-1.fluid-shared-cache:6379"], config.SharedCache.Endpoints);
        Assert.Equal("cluster-a/", config.SharedCache.Prefix);
        Assert.Equal(40, config.SharedCache.TimeoutMilliseconds);
        Assert.Equal(EnvironmentNames.SharedCachePassword, config.SharedCache.PasswordEnv);
        Assert.Null(config.SharedCache.UserEnv);

        var sidecar = outcome.Pod!.Obj("spec").Arr("initContainers").Objects().Single(c => c.Str("name") == SidecarContainerMutator.PreferredName);
        var password = sidecar.Arr("env").Objects().Single(e => e.Str("name") == EnvironmentNames.SharedCachePassword);
        Assert.Equal("fluid-shared-cache", password.Obj("valueFrom").Obj("secretKeyRef").Str("name"));
        Assert.Equal("password", password.Obj("valueFrom").Obj("secretKeyRef").Str("key"));
        var app = outcome.Pod!.Obj("spec").Arr("containers").Objects().Single(c => c.Str("name") == "app");
        Assert.DoesNotContain(app.Arr("env").Objects(), e => e.Str("name")!.StartsWith("FLUID_SHARED_CACHE", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_DefaultNamesUndefinedTier_FailsNamingTheSetting()
    {
        var config = GarnetConfig();
        config["Injector:DefaultSharedCache"] = "valkey";

        var error = Assert.Throws<InvalidOperationException>(() => Read(config));

        Assert.Equal("invalid value 'valkey' for Injector:DefaultSharedCache: expected 'none' or a key of Injector:SharedCacheTiers (garnet)", error.Message);
    }

    [Fact]
    public void Read_SecretRefWithoutKey_FailsNamingTheSetting()
    {
        var config = GarnetConfig();
        config.Remove("Injector:SharedCacheTiers:garnet:PasswordSecretRef:Key");

        var error = Assert.Throws<InvalidOperationException>(() => Read(config));

        Assert.Equal("invalid value 'fluid-shared-cache/' for Injector:SharedCacheTiers:garnet:PasswordSecretRef: expected both Name and Key of a Secret", error.Message);
    }

    [Fact]
    public void Read_RedisTierWithoutEndpoints_Fails()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Read(new() { ["Injector:SharedCacheTiers:t:Engine"] = "redis" }));

        Assert.Equal("invalid value '' for Injector:SharedCacheTiers:t:Endpoints: expected at least one host:port", error.Message);
    }

    [Fact]
    public void Read_SharedCacheOverlayConfigMap_DefaultTierIsTheEngine()
    {
        // the ConfigMap keys as the injector's environment provider sees them: FLUID_INJECTOR_ stripped, __ → :
        var values = new Dictionary<string, string?>();
        foreach (var file in new[] { "manifests/base/configmap.yaml", "manifests/overlays/shared-cache/injector-config-patch.yaml" })
        {
            var configMap = YamlJson.ParseDocuments(File.ReadAllText(Path.Combine(RepositoryRoot(), file))).Single()!;
            foreach (var (key, value) in configMap.Obj("data")!)
            {
                values[key["FLUID_INJECTOR_".Length..].Replace("__", ":", StringComparison.Ordinal)] = value!.ToString();
            }
        }

        var options = Read(values);

        Assert.Equal("valkey", options.DefaultSharedCache);
        var tier = options.SharedCacheTiers["valkey"];
        Assert.Equal("redis", tier.Engine);
        Assert.Equal([.. Enumerable.Range(0, 3).Select(i => $"fluid-shared-cache-{i}.fluid-shared-cache.fluid-serverless.svc:6379")], tier.Endpoints);
        Assert.Null(tier.PasswordSecretRef);
    }

    private static string RepositoryRoot([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", ".."));

    [Fact]
    public void Read_NoTierConfigured_DefaultIsNone()
    {
        var options = Read([]);

        Assert.Equal("none", options.DefaultSharedCache);
        Assert.Empty(options.SharedCacheTiers);
    }
}
