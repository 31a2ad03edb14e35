using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Offline;

namespace Fluid.Serverless.Injector.Tests.Samples;

/// <summary>
/// Every workload sample under samples/ goes through the offline tool exactly as a user would run it
/// (<c>fluid-injector inject -f samples/X.yaml --cluster …</c>, the cluster being every sample file): it must come
/// out injected with a sidecar config naming the datasets it asked for, or unchanged where it opts out, and no
/// Secret value of the samples may appear anywhere in the output.
/// </summary>
public sealed class SampleInjectionTests
{
    private static string SamplesDirectory([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "..", "samples"));

    /// <summary>Top-level sample files (datasets/ holds only Datasets; reader/ is a kustomization; demo/ is the sidecar's).</summary>
    private static List<string> SampleFiles() =>
        [.. Directory.GetFiles(SamplesDirectory(), "*.yaml").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    public static TheoryData<string> WorkloadSamples() => [.. SampleFiles()];

    [Fact]
    public void SampleFiles_InSamplesDirectory_AtLeastSeven()
    {
        var files = SampleFiles();
        Assert.True(files.Count >= 7, $"expected at least 7 workload samples, found {files.Count}: {string.Join(", ", files)}");
    }

    [Theory]
    [MemberData(nameof(WorkloadSamples))]
    public void Inject_Sample_EveryOptedInPodIsInjectedWithItsDatasets(string sample)
    {
        var samples = SamplesDirectory();
        var clusterFiles = Directory.GetFiles(samples, "*.yaml", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}demo{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && Path.GetFileName(path) != "kustomization.yaml")
            .Order(StringComparer.Ordinal)
            .ToList();
        var args = new List<string> { "inject", "-f", Path.Combine(samples, sample) };
        foreach (var file in clusterFiles)
        {
            args.Add("--cluster");
            args.Add(file);
        }

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = OfflineCommand.Run([.. args], TextReader.Null, stdout, stderr);

        Assert.True(exit == 0, $"inject -f {sample} exited {exit}: {stderr}");
        var originals = Workloads(File.ReadAllText(Path.Combine(samples, sample)));
        var injected = Workloads(stdout.ToString());
        Assert.NotEmpty(originals);
        Assert.Equal(originals.Keys.Order(), injected.Keys.Order());

        foreach (var (name, original) in originals)
        {
            var template = PodTemplate(injected[name]);
            var labels = template.Obj("metadata").StringMap("labels");
            if (PodTemplate(original).Obj("metadata").StringMap("labels").GetValueOrDefault(Annotations.Inject) == "false")
            {
                Assert.True(JsonNode.DeepEquals(original, injected[name]), $"{name} opts out and must come back unchanged");
                continue;
            }

            Assert.Equal("true", labels.GetValueOrDefault(Annotations.InjectedLabel));
            var configJson = template.Obj("metadata").StringMap("annotations").GetValueOrDefault(Annotations.SidecarConfig);
            Assert.False(string.IsNullOrEmpty(configJson), $"{name} has no {Annotations.SidecarConfig} annotation");
            var config = JsonSerializer.Deserialize(configJson, ContractsJsonContext.Default.SidecarConfig)!;
            Assert.Equal(ExpectedDatasets(original, name, samples), config.Datasets.Select(d => d.Name).Order(StringComparer.Ordinal));
        }

        foreach (var secretValue in SecretValues(clusterFiles))
        {
            Assert.DoesNotContain(secretValue, stdout.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>Every Dataset under samples/datasets/, as (file, dataset name).</summary>
    public static TheoryData<string, string> SampleDatasets()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Path.Combine(SamplesDirectory(), "datasets"), "*.yaml").Order(StringComparer.Ordinal))
        {
            foreach (var doc in YamlJson.ParseDocuments(File.ReadAllText(file)).OfType<JsonObject>().Where(d => d.Str("kind") == "Dataset"))
            {
                data.Add(Path.GetFileName(file), doc.Obj("metadata").Str("name")!);
            }
        }

        return data;
    }

    [Fact]
    public void SampleDatasets_EveryStorageSystemSample_Present()
    {
        var sources = SampleDatasets().Select(row => (string)row[1]).ToList();
        Assert.True(sources.Count >= 14, $"expected at least 14 sample Datasets, found {sources.Count}");
    }

    /// <summary>
    /// Each sample Dataset, named by a pod as a user would (<c>serverless.fluid.io/datasets: NAME:/data</c>), through
    /// <c>inject -f - --cluster samples/datasets/FILE</c>: accepted, served from its mountPoint, secrets only as
    /// references; an nfs:// export or a local:// hostPath/claimName is a volume of the sidecar and of no other
    /// container.
    /// </summary>
    [Theory]
    [MemberData(nameof(SampleDatasets))]
    public void Inject_SampleDataset_AcceptedAndServedFromItsMountPoint(string file, string datasetName)
    {
        var path = Path.Combine(SamplesDirectory(), "datasets", file);
        var dataset = YamlJson.ParseDocuments(File.ReadAllText(path)).OfType<JsonObject>()
            .Single(d => d.Str("kind") == "Dataset" && d.Obj("metadata").Str("name") == datasetName);
        var mountPoint = dataset.Obj("spec").Arr("mounts").Objects().Single().Str("mountPoint")!;
        var pod = $$"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: reader
              labels: {"{{Annotations.Inject}}": "true"}
              annotations: {"{{Annotations.Datasets}}": "{{datasetName}}:/data"}
            spec:
              containers:
              - name: app
                image: python:3.11
            """;

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = OfflineCommand.Run(["inject", "-f", "-", "--cluster", path, "--allow-host-path", "/mnt/lustre"], new StringReader(pod), stdout, stderr);

        Assert.True(exit == 0, $"inject -f (dataset {datasetName} of {file}) exited {exit}: {stderr}");
        var injected = YamlJson.ParseDocuments(stdout.ToString()).OfType<JsonObject>().Single();
        var config = JsonSerializer.Deserialize(
            injected.Obj("metadata").StringMap("annotations")[Annotations.SidecarConfig], ContractsJsonContext.Default.SidecarConfig)!;
        var served = Assert.Single(config.Datasets);
        Assert.Equal(datasetName, served.Name);
        Assert.Equal(mountPoint, served.Source);

        var spec = injected.Obj("spec");
        var sidecar = spec.Arr("initContainers").Objects().Single(c => c.Str("name") == "fluid-serverless-sidecar");
        var app = spec.Arr("containers").Objects().Single(c => c.Str("name") == "app");
        var sourceVolumes = spec.Arr("volumes").Objects()
            .Where(v => v.ContainsKey("nfs") || (v.ContainsKey("hostPath") && v.Obj("hostPath").Str("path") != "/dev/fuse") || v.ContainsKey("persistentVolumeClaim"))
            .ToList();
        var needsVolume = mountPoint.StartsWith("nfs://", StringComparison.Ordinal)
            || (mountPoint.StartsWith("local://", StringComparison.Ordinal) && (served.Options.ContainsKey("hostPath") || served.Options.ContainsKey("claimName")));
        Assert.Equal(needsVolume ? 1 : 0, sourceVolumes.Count);
        foreach (var volume in sourceVolumes)
        {
            var name = volume.Str("name");
            var mount = Assert.Single(sidecar.Arr("volumeMounts").Objects(), m => m.Str("name") == name);
            Assert.DoesNotContain(app.Arr("volumeMounts").Objects(), m => m.Str("name") == name);
            Assert.Equal(served.ReadOnly, mount.Bool("readOnly") ?? false);
            if (volume.Obj("nfs") is { } nfs)
            {
                Assert.Equal(mountPoint, "nfs://" + nfs.Str("server") + nfs.Str("path"));
                Assert.Equal(served.ReadOnly, nfs.Bool("readOnly") ?? false);
                Assert.Equal(SidecarDefaults.NfsMountPath(datasetName), mount.Str("mountPath"));
            }
            else
            {
                Assert.Equal(mountPoint["local://".Length..], mount.Str("mountPath"));
            }
        }

        foreach (var secretValue in SecretValues([path]))
        {
            Assert.DoesNotContain(secretValue, stdout.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>Kind/name → manifest of every object with a pod template.</summary>
    private static Dictionary<string, JsonObject> Workloads(string yaml) =>
        YamlJson.ParseDocuments(yaml)
            .OfType<JsonObject>()
            .Where(doc => WorkloadTemplates.FindTemplate(doc, out _) is not null)
            .ToDictionary(doc => $"{doc.Str("kind")}/{doc.Obj("metadata").Str("name")}", doc => doc, StringComparer.Ordinal);

    private static JsonObject PodTemplate(JsonObject manifest) => WorkloadTemplates.FindTemplate(manifest, out _)!;

    /// <summary>What the sample asks for: PVC claims named after Datasets, the datasets annotation, and the
    /// datasets of the sample's InjectionPolicy (namespace-policy.yaml) selecting it.</summary>
    private static List<string> ExpectedDatasets(JsonObject manifest, string name, string samples)
    {
        var template = PodTemplate(manifest);
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var volume in template.Obj("spec").Arr("volumes").Objects())
        {
            if (volume.Obj("persistentVolumeClaim").Str("claimName") is { } claim)
            {
                names.Add(claim);
            }
        }

        var annotation = template.Obj("metadata").StringMap("annotations").GetValueOrDefault(Annotations.Datasets);
        foreach (var entry in (annotation ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            names.Add(entry.Split(':')[0]);
        }

        var labels = template.Obj("metadata").StringMap("labels");
        var @namespace = manifest.Obj("metadata").Str("namespace") ?? "default";
        foreach (var policy in YamlJson.ParseDocuments(File.ReadAllText(Path.Combine(samples, "namespace-policy.yaml"))).OfType<JsonObject>()
                     .Where(doc => doc.Str("kind") == "InjectionPolicy" && doc.Obj("metadata").Str("namespace") == @namespace))
        {
            var selector = policy.Obj("spec").Obj("podSelector").StringMap("matchLabels");
            if (selector.All(pair => labels.GetValueOrDefault(pair.Key) == pair.Value))
            {
                foreach (var entry in policy.Obj("spec").Arr("datasets") ?? [])
                {
                    names.Add(entry!.GetValue<string>().Split(':')[0]);
                }
            }
        }

        Assert.True(names.Count > 0, $"{name} asks for no dataset");
        return [.. names];
    }

    private static IEnumerable<string> SecretValues(IEnumerable<string> files) =>
        files.SelectMany(file => YamlJson.ParseDocuments(File.ReadAllText(file)).OfType<JsonObject>())
            .Where(doc => doc.Str("kind") == "Secret")
            .SelectMany(doc => doc.StringMap("stringData").Values.Concat(doc.StringMap("data").Values))
            .Distinct(StringComparer.Ordinal);
}
