using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Tests.Controller;

/// <summary>The config a running pod gets after a Dataset edit, computed in-process from pods the webhook's own
/// <see cref="PodInjector"/> admitted.</summary>
public sealed class SidecarConfigRecomputerTests
{
    private const string Namespace = "ml";

    [Fact]
    public void Recompute_DatasetUnchanged_UpToDate()
    {
        var cluster = Cluster("""[{"mountPoint":"s3://models"}]""");
        var pod = Admit(cluster);

        var update = SidecarConfigRecomputer.Recompute(pod, cluster.FindDataset(Namespace, "models")!, new Dictionary<string, string>(), new InjectorOptions(), new ClusterState());

        Assert.Equal(PodUpdateKind.UpToDate, update.Kind);
    }

    [Fact]
    public void Recompute_OneOfTwoDatasetsEdited_OnlyItsEntriesChangeInPlace()
    {
        var cluster = Cluster("""[{"mountPoint":"s3://models"}]""");
        var pod = Admit(cluster, datasetsAnnotation: "tokenizers:/tok");
        var before = Config(pod);
        var edited = FluidDataset.FromJson(Dataset("models", """[{"name":"a","mountPoint":"s3://models-v2/a"},{"name":"b","mountPoint":"https://models.example/b"}]"""));

        var update = SidecarConfigRecomputer.Recompute(pod, edited, new Dictionary<string, string>(), new InjectorOptions(), new ClusterState());

        Assert.Equal(PodUpdateKind.Patch, update.Kind);
        var after = JsonSerializer.Deserialize(update.SidecarConfig!, ContractsJsonContext.Default.SidecarConfig)!;
        Assert.Equal(["models-a", "models-b", "tokenizers"], after.Datasets.Select(d => d.Name));
        Assert.Equal(["s3://models-v2/a", "https://models.example/b"], after.Datasets.Take(2).Select(d => d.Source));
        Assert.Equal(InjectionPlan.SharedVolumeRoot + "/models/a", after.Datasets[0].MountPath);
        Assert.Equal(JsonSerializer.Serialize(before.Datasets.Single(d => d.Name == "tokenizers"), ContractsJsonContext.Default.DatasetConfig),
            JsonSerializer.Serialize(after.Datasets[2], ContractsJsonContext.Default.DatasetConfig));
        Assert.Equal(before.Cache, after.Cache);
    }

    [Fact]
    public void Recompute_ReadOnlyDatasetMadeWritable_RecreateRequired()
    {
        var cluster = Cluster("""[{"mountPoint":"s3://models"}]""");
        var pod = Admit(cluster);
        var writable = FluidDataset.FromJson(Dataset("models", """[{"mountPoint":"s3://models"}]""", ""","accessModes":["ReadWriteMany"]"""));

        var update = SidecarConfigRecomputer.Recompute(pod, writable, new Dictionary<string, string>(), new InjectorOptions(), new ClusterState());

        Assert.Equal(PodUpdateKind.RecreateRequired, update.Kind);
        Assert.Contains("recreate the pod to pick up write access to dataset 'models'", update.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Recompute_UnsupportedScheme_InvalidNamingTheMount()
    {
        var cluster = Cluster("""[{"mountPoint":"s3://models"}]""");
        var pod = Admit(cluster);

        var update = SidecarConfigRecomputer.Recompute(pod, FluidDataset.FromJson(Dataset("models", """[{"mountPoint":"models-without-scheme"}]""")),
            new Dictionary<string, string>(), new InjectorOptions(), new ClusterState());

        Assert.Equal(PodUpdateKind.Invalid, update.Kind);
        Assert.Contains("invalid mountPoint 'models-without-scheme' in spec.mounts[0]", update.Reason, StringComparison.Ordinal);
    }

    private static ClusterState Cluster(string modelsMounts)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.Apply(cluster, (JsonObject)JsonNode.Parse($$$"""{"kind":"Namespace","metadata":{"name":"{{{Namespace}}}"}}""")!);
        ClusterStateLoader.Apply(cluster, Dataset("models", modelsMounts));
        ClusterStateLoader.Apply(cluster, Dataset("tokenizers", """[{"mountPoint":"s3://tokenizers"}]"""));
        return cluster;
    }

    private static JsonObject Dataset(string name, string mounts, string extraSpec = "") => (JsonObject)JsonNode.Parse(
        $$$"""{"apiVersion":"data.fluid.io/v1alpha1","kind":"Dataset","metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}"},"spec":{"mounts":{{{mounts}}}{{{extraSpec}}}}}""")!;

    private static JsonObject Admit(ClusterState cluster, string? datasetsAnnotation = null)
    {
        var annotations = datasetsAnnotation is null ? "{}" : "{\"serverless.fluid.io/datasets\":\"" + datasetsAnnotation + "\"}";
        var pod = (JsonObject)JsonNode.Parse($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"train","namespace":"{{{Namespace}}}","labels":{"serverless.fluid.io/inject":"true"},"annotations":{{{annotations}}}},
             "spec":{"containers":[{"name":"app","image":"python","volumeMounts":[{"name":"data","mountPath":"/data"}]}],
                     "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"models"}}]}}
            """)!;
        var outcome = new PodInjector(cluster, new InjectorOptions()).Inject(pod, Namespace);
        Assert.Equal(InjectionOutcomeKind.Injected, outcome.Kind);
        return outcome.Pod!;
    }

    private static SidecarConfig Config(JsonObject pod) =>
        JsonSerializer.Deserialize(pod.Obj("metadata").Obj("annotations").Str(Annotations.SidecarConfig)!, ContractsJsonContext.Default.SidecarConfig)!;
}
