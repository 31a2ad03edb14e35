using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Mutation;

/// <summary>The pod being mutated plus what earlier mutators created (the sidecar, volume names) for later ones.</summary>
internal sealed class MutationContext
{
    public MutationContext(JsonObject pod, InjectionPlan plan)
    {
        Pod = pod;
        Plan = plan;
        Spec = pod.EnsureObj("spec");
        VolumeNames = new NameAllocator(Spec.Arr("volumes").Objects().Select(v => v.Str("name") ?? ""));
        ContainerNames = new NameAllocator(
            Spec.Arr("containers").Objects().Concat(Spec.Arr("initContainers").Objects()).Concat(Spec.Arr("ephemeralContainers").Objects())
                .Select(c => c.Str("name") ?? ""));
    }

    public JsonObject Pod { get; }
    public JsonObject Spec { get; }
    public InjectionPlan Plan { get; }
    public NameAllocator VolumeNames { get; }
    public NameAllocator ContainerNames { get; }

    /// <summary>Set by <see cref="SidecarContainerMutator"/>.</summary>
    public JsonObject Sidecar { get; set; } = [];
    public string SidecarName { get; set; } = "";

    /// <summary>Admission warnings a mutator found (returned with the plan's).</summary>
    public List<string> Warnings { get; } = [];

    /// <summary>Volumes the injection added or replaced, for the status annotation.</summary>
    public List<string> TouchedVolumes { get; } = [];

    public IEnumerable<string> DatasetVolumeNames => Plan.Datasets.Where(d => d.VolumeName is not null).Select(d => d.VolumeName!);

    /// <summary>App containers (per platform), then, with a native sidecar, the init containers that start after it.</summary>
    public IEnumerable<JsonObject> DataConsumers()
    {
        foreach (var container in Spec.Arr("containers").Objects())
        {
            if (Plan.AppContainers.Contains(container.Str("name") ?? "") && !ReferenceEquals(container, Sidecar))
            {
                yield return container;
            }
        }

        if (Plan.NativeSidecar && !Plan.Platform.Knative)
        {
            foreach (var init in Spec.Arr("initContainers").Objects())
            {
                if (!ReferenceEquals(init, Sidecar))
                {
                    yield return init;
                }
            }
        }
    }

    public JsonObject AddVolume(string preferredName, JsonObject source)
    {
        var name = VolumeNames.Allocate(preferredName);
        var volume = new JsonObject { ["name"] = name };
        foreach (var (key, value) in source)
        {
            volume[key] = value?.DeepClone();
        }

        Spec.EnsureArr("volumes").Add(volume);
        TouchedVolumes.Add(name);
        return volume;
    }

    public JsonObject SharedEmptyDir()
    {
        var emptyDir = new JsonObject();
        if (Plan.Settings.CacheMedium == "memory")
        {
            emptyDir["medium"] = "Memory";
        }

        emptyDir["sizeLimit"] = Plan.Settings.CacheSize;
        return emptyDir;
    }
}

/// <summary>One concern of the injection, applied to the pod in order; each is small and testable alone.</summary>
internal interface IPodMutator
{
    void Mutate(MutationContext context);
}
