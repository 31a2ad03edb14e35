using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Microsoft.Extensions.Configuration;

namespace Fluid.Serverless.Injector.Tests.Policy;

/// <summary>
/// FUSE pods get <c>dropPrivileges</c> in their sidecar config, so the process that holds the secrets and parses remote
/// data runs as the image's non-root user once mounted; other modes run non-root from the start and get none; the
/// injector setting turns it off.
/// </summary>
public sealed class FusePrivilegeDropTests
{
    [Theory]
    [InlineData("fuse", null, true)]
    [InlineData("copy", null, false)]
    [InlineData("s3", null, false)]
    [InlineData("fuse", "false", false)]
    public void Inject_Mode_DropPrivilegesOnlyForFuseUnlessTurnedOff(string mode, string? setting, bool expected)
    {
        var values = new Dictionary<string, string?>();
        if (setting is not null)
        {
            values["Injector:FuseDropPrivileges"] = setting;
        }

        var options = InjectorOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("Injector"));
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, """
            apiVersion: data.fluid.io/v1alpha1
            kind: Dataset
            metadata: {name: imagenet, namespace: default}
            spec:
              mounts: [{mountPoint: "s3://imagenet-bucket"}]
            """);
        var pod = (JsonObject)YamlJson.ParseDocuments($$$"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: train
              labels: {serverless.fluid.io/inject: "true"}
              annotations: {serverless.fluid.io/datasets: imagenet, serverless.fluid.io/mode: {{{mode}}}}
            spec:
              containers: [{name: app, image: python, volumeMounts: [{name: data, mountPath: /data}]}]
              volumes: [{name: data, persistentVolumeClaim: {claimName: imagenet}}]
            """).Single()!;

        var outcome = new PodInjector(cluster, options).Inject(pod, "default");

        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        var config = JsonSerializer.Deserialize(outcome.Pod!.Obj("metadata").StringMap("annotations")[Annotations.SidecarConfig], ContractsJsonContext.Default.SidecarConfig)!;
        Assert.Equal(mode, config.Mode);
        if (expected)
        {
            Assert.Equal(SidecarDefaults.UnprivilegedId, config.DropPrivileges!.Uid);
            Assert.Equal(SidecarDefaults.UnprivilegedId, config.DropPrivileges!.Gid);
        }
        else
        {
            Assert.Null(config.DropPrivileges);
        }
    }
}
