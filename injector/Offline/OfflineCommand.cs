using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Kubernetes;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;

namespace Fluid.Serverless.Injector.Offline;

/// <summary>
/// <c>fluid-injector inject -f FILE</c> prints the manifests injected (like istioctl kube-inject, for GitOps and
/// debugging); <c>fluid-injector explain -f FILE</c> says why each pod is or is not injected. No cluster is needed:
/// Datasets, PVCs, Namespaces and InjectionPolicies come from --cluster files and --dataset name=URL flags, or are
/// listed once from a live cluster with --kubeconfig FILE; the injector's own settings come from --injector-config
/// (its ConfigMap or a plain config; else its built-in defaults).
/// For <c>inject</c> and <c>sidecar-config</c>, asking is opting in: pods that nothing opts in or out are injected;
/// explicit opt-outs still hold. <c>explain</c> answers for the webhook: it keeps the configured global default.
/// </summary>
internal static class OfflineCommand
{
    public const string Usage = """
        usage:
          fluid-injector inject  -f FILE|- [--dataset NAME=URL]... [--cluster FILE]... [--kubeconfig FILE [--context NAME]] [--injector-config FILE] [--allow-host-path DIR]... [--legacy-sidecar] [--image IMAGE]
          fluid-injector explain -f FILE|- [--dataset NAME=URL]... [--cluster FILE]... [--kubeconfig FILE [--context NAME]] [--injector-config FILE] [--allow-host-path DIR]...
          fluid-injector sidecar-config -f FILE|- [--dataset NAME=URL]... [--cluster FILE]... [--kubeconfig FILE [--context NAME]] [--injector-config FILE] [--allow-host-path DIR]...
          fluid-injector analyze [--kubeconfig FILE] [-n NAMESPACE] [-o text|json] … (fluid-injector analyze --help)
        sidecar-config prints, one line per injected pod, the serverless.fluid.io/sidecar-config JSON the injector would
        write: annotate a running pod with it to switch its datasets live (see README, "Switch datasets live").
        FILE holds Pods, Deployments, StatefulSets, DaemonSets, Jobs, CronJobs or Knative Services (multi-document YAML).
        --dataset NAME=URL  a Dataset with one mount (s3://bucket/prefix, oss://bucket/prefix, https://host/path,
                            hdfs://namenode/path, nfs://server/export/path, local:///path); pods that reference no
                            dataset get every --dataset on the S3 endpoint.
        --cluster FILE      Datasets, PVCs, Namespaces and InjectionPolicies as YAML (a Namespace's Pod Security label
                            pod-security.kubernetes.io/enforce counts as it does in the cluster).
        --kubeconfig FILE   list Datasets, PVCs, Namespaces, InjectionPolicies and AlluxioRuntimes from the cluster
                            of this kubeconfig (its current context, or --context NAME) instead of exporting them; the
                            server version decides native sidecars, as in the webhook. Combines with --cluster files
                            (read after the cluster: a file's object replaces the live one).
        --allow-host-path DIR  a node directory Dataset option 'hostPath' may name (Injector:AllowedHostPaths; none
                            by default), added to the injector config's list.
        --injector-config FILE
                            the injector's configuration: its ConfigMap (manifests/base/configmap.yaml) or a plain
                            config (Injector: {InjectByDefault: false, SidecarImage: …}); default: its built-in defaults.
        explain says what the webhook would do with that configuration (pods that nothing opts in follow
        InjectByDefault, false as installed); inject and sidecar-config inject every pod that does not opt out.
        """;

    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var command = args[0];
        if (command is "help" or "--help" or "-h")
        {
            stdout.WriteLine(Usage);
            return 0;
        }

        string? file = null;
        var cluster = new ClusterState();
        var cliDatasets = new List<(string Name, string Url)>();
        var clusterFiles = new List<string>();
        string? injectorConfig = null;
        string? image = null;
        string? kubeconfig = null;
        string? context = null;
        var legacySidecar = false;
        var allowedHostPaths = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option '{args[i]}' needs a value");
            try
            {
                switch (args[i])
                {
                    case "-f" or "--filename":
                        file = Next();
                        break;
                    case "--dataset":
                        var value = Next();
                        var separator = value.IndexOf('=', StringComparison.Ordinal);
                        if (separator <= 0 || !value.Contains("://", StringComparison.Ordinal))
                        {
                            stderr.WriteLine($"invalid value '{value}' for --dataset: expected NAME=URL, e.g. images=s3://bucket/prefix");
                            return 2;
                        }

                        cliDatasets.Add((value[..separator], value[(separator + 1)..]));
                        break;
                    case "--cluster":
                        clusterFiles.Add(Next());
                        break;
                    case "--injector-config":
                        injectorConfig = Next();
                        break;
                    case "--kubeconfig":
                        kubeconfig = Next();
                        break;
                    case "--context":
                        context = Next();
                        break;
                    case "--allow-host-path":
                        allowedHostPaths.Add(Next());
                        break;
                    case "--legacy-sidecar":
                        legacySidecar = true;
                        break;
                    case "--image":
                        image = Next();
                        break;
                    default:
                        stderr.WriteLine($"unknown option '{args[i]}'");
                        stderr.WriteLine(Usage);
                        return 2;
                }
            }
            catch (ArgumentException exception)
            {
                stderr.WriteLine(exception.Message);
                return 2;
            }
        }

        if (file is null)
        {
            stderr.WriteLine("missing -f FILE (use -f - for standard input)");
            stderr.WriteLine(Usage);
            return 2;
        }

        var explain = command == "explain";
        InjectorOptions options;
        try
        {
            options = injectorConfig is null ? new InjectorOptions() : InjectorConfigFile.Load(injectorConfig);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or InvalidDataException or YamlDotNet.Core.YamlException)
        {
            stderr.WriteLine(exception is InvalidDataException ? exception.Message : $"cannot read injector config '{injectorConfig}': {exception.Message}");
            return 2;
        }

        var nativeSidecars = options.NativeSidecarSupported;
        if (kubeconfig is not null)
        {
            if (LoadLiveCluster(kubeconfig, context, cluster, stderr) is not { } detected)
            {
                return 1;
            }

            nativeSidecars = detected;
        }
        else if (context is not null)
        {
            stderr.WriteLine("--context needs --kubeconfig FILE");
            return 2;
        }

        options = options with
        {
            // inject/sidecar-config: asking is opting in. explain: the webhook's own answer.
            InjectByDefault = !explain || options.InjectByDefault,
            NativeSidecarSupported = !legacySidecar && nativeSidecars,
            SidecarImage = image ?? options.SidecarImage,
            AllowedHostPaths = [.. options.AllowedHostPaths, .. allowedHostPaths],
        };

        List<JsonNode?> documents;
        try
        {
            foreach (var clusterFile in clusterFiles)
            {
                ClusterStateLoader.LoadYaml(cluster, File.ReadAllText(clusterFile));
            }

            documents = YamlJson.ParseDocuments(file == "-" ? stdin.ReadToEnd() : File.ReadAllText(file));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            stderr.WriteLine($"cannot read manifests: {exception.Message}");
            return 1;
        }

        var injector = new PodInjector(cluster, options);
        var configOnly = command == "sidecar-config";
        var failed = false;
        var report = new StringBuilder();
        if (explain)
        {
            report.AppendLine($"What the webhook would do, with {(injectorConfig is null ? "the injector's built-in defaults" : $"the injector config '{injectorConfig}'")} "
                + $"(InjectByDefault: {(options.InjectByDefault ? "true" : "false")}); `inject -f` injects every pod that does not opt out.");
            if (kubeconfig is not null)
            {
                report.AppendLine($"Cluster objects listed from the cluster of kubeconfig '{kubeconfig}'{(clusterFiles.Count > 0 ? ", then the --cluster files" : "")}.");
            }

        }

        foreach (var document in documents)
        {
            if (document is not JsonObject manifest || WorkloadTemplates.FindTemplate(manifest, out var platformHint) is not { } template)
            {
                continue;
            }

            var @namespace = manifest.Obj("metadata").Str("namespace") ?? "default";
            foreach (var (name, url) in cliDatasets)
            {
                cluster.SetDataset(new FluidDataset { Namespace = @namespace, Name = name, Mounts = [new DatasetMount(name, url, null, false, new Dictionary<string, string>(), [])] });
            }

            var pod = new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Pod",
                ["metadata"] = template.Obj("metadata")?.DeepClone() ?? new JsonObject(),
                ["spec"] = template.Obj("spec")?.DeepClone() ?? new JsonObject(),
            };
            AddCommandLineDatasets(pod, @namespace, cluster, cliDatasets);
            var outcome = injector.Inject(pod, @namespace, platformHint);
            var what = WorkloadTemplates.Describe(manifest);
            if (explain)
            {
                Explain(report, what, @namespace, outcome);
                continue;
            }

            switch (outcome.Kind)
            {
                case InjectionOutcomeKind.Injected when configOnly:
                    report.AppendLine(outcome.Pod!.Obj("metadata").StringMap("annotations")[Annotations.SidecarConfig]);
                    break;
                case InjectionOutcomeKind.Injected:
                    template["metadata"] = outcome.Pod!["metadata"]!.DeepClone();
                    template["spec"] = outcome.Pod!["spec"]!.DeepClone();
                    if (platformHint == Platforms.Knative)
                    {
                        // Knative validates the Service's pod spec itself; the webhook path (pods) avoids this
                        stderr.WriteLine($"{what}: note: Knative must allow the injected fields (config-features: kubernetes.podspec-init-containers, "
                            + "kubernetes.podspec-emptydir, kubernetes.podspec-volumes-hostpath and kubernetes.podspec-securitycontext for fuse); "
                            + "or let the webhook inject the revision's pods instead");
                    }

                    if (platformHint == Platforms.Knative && outcome.Pod!.Obj("spec").Arr("volumes").Objects().Any(v => v.ContainsKey("nfs")))
                    {
                        // Knative Serving checks volume types against its own list (secret, configMap, projected; emptyDir, PVC, hostPath
                        // behind feature flags), which has no nfs: only the webhook path (pods) can carry it
                        stderr.WriteLine($"{what}: note: Knative Services cannot carry the nfs volume an nfs:// dataset needs; "
                            + "let the webhook inject the revision's pods instead");
                    }

                    break;
                case InjectionOutcomeKind.Denied:
                    stderr.WriteLine($"{what}: denied: {outcome.Reason}");
                    failed = true;
                    break;
                default:
                    stderr.WriteLine($"{what}: not injected: {outcome.Reason}");
                    break;
            }

            foreach (var warning in outcome.Warnings)
            {
                stderr.WriteLine($"{what}: warning: {warning}");
            }
        }

        stdout.Write(explain || configOnly ? report.ToString() : YamlJson.Write(documents));
        return failed ? 1 : 0;
    }

    /// <summary>Lists the cluster's cached kinds into <paramref name="cluster"/>; returns whether its version runs
    /// native sidecars (true when the version cannot be read, as the webhook's default), or null on failure.</summary>
    private static bool? LoadLiveCluster(string kubeconfig, string? context, ClusterState cluster, TextWriter stderr)
    {
        try
        {
            using var client = KubernetesConnection.FromKubeconfig(kubeconfig, context);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            // a command-line tool: blocking on the one list pass keeps Run synchronous like the file path
            LiveClusterState.LoadAsync(client, cluster, timeout.Token).GetAwaiter().GetResult();
            return !KubernetesConnection.TryDetectNativeSidecars(client, out var native, out _) || native;
        }
        catch (Exception exception) when (exception is k8s.Exceptions.KubeConfigException or k8s.Autorest.HttpOperationException
            or HttpRequestException or IOException or OperationCanceledException)
        {
            stderr.WriteLine($"cannot read the cluster of kubeconfig '{kubeconfig}': {exception.Message}");
            return null;
        }
    }

    private static void AddCommandLineDatasets(JsonObject pod, string @namespace, ClusterState cluster, List<(string Name, string Url)> datasets)
    {
        if (datasets.Count == 0)
        {
            return;
        }

        var annotations = pod.Obj("metadata").StringMap("annotations");
        var claimsDataset = pod.Obj("spec").Arr("volumes").Objects()
            .Any(v => v.Obj("persistentVolumeClaim").Str("claimName") is { } claim && cluster.FindDataset(@namespace, claim) is not null);
        if (!claimsDataset && !annotations.ContainsKey(Annotations.Datasets))
        {
            ((JsonObject)pod["metadata"]!).EnsureObj("annotations")[Annotations.Datasets] = string.Join(',', datasets.Select(d => d.Name));
        }
    }

    private static void Explain(StringBuilder report, string what, string @namespace, InjectionOutcome outcome)
    {
        var verdict = outcome.Kind switch
        {
            InjectionOutcomeKind.Injected => "injected",
            InjectionOutcomeKind.Denied => "denied",
            _ => "not injected",
        };
        report.AppendLine($"{what} (namespace {@namespace}): {verdict}");
        if (outcome.Decision is { } decision)
        {
            report.AppendLine($"  decided by: {decision.Source} — {decision.Reason}");
            report.AppendLine($"  precedence: pod label > pod annotation > InjectionPolicy > namespace label > global config (never-rules first)");
            if (decision.Policy is { } policy)
            {
                report.AppendLine($"  InjectionPolicy selecting the pod: {policy.Namespace}/{policy.Name}");
            }
        }

        if (outcome.Kind == InjectionOutcomeKind.Denied)
        {
            report.AppendLine($"  reason: {outcome.Reason}");
        }
        else if (outcome.Kind == InjectionOutcomeKind.Skipped && outcome.Decision?.Inject == true)
        {
            report.AppendLine($"  skipped: {outcome.Reason}");
        }

        if (outcome.Plan is { } plan)
        {
            report.AppendLine($"  platform: {plan.Platform.Name}; mode: {plan.Mode}; sidecar: {(plan.NativeSidecar ? "native (init container, restartPolicy Always)" : "legacy (first container, postStart wait)")}");
            report.AppendLine($"  mode chosen: {plan.ModeReason}");
            report.AppendLine($"  containers given the data: {string.Join(", ", plan.AppContainers.Order(StringComparer.Ordinal))}");
            if (plan.SharedCache is { } tier)
            {
                var where = tier.Engine == SharedCacheEngines.S3 ? $"bucket {tier.Bucket}" : string.Join(", ", tier.Endpoints);
                report.AppendLine($"  shared cache: tier '{plan.Settings.SharedCacheName}' ({tier.Engine}: {where}; prefix {tier.Prefix}; secrets: {plan.SharedCacheSecretEnv.Count})");
            }

            foreach (var dataset in plan.Datasets)
            {
                var where = dataset.VolumeName is null ? "S3 endpoint only" : $"volume '{dataset.VolumeName}'{(dataset.ReplacesClaim ? " (PVC replaced by emptyDir)" : "")}";
                report.AppendLine($"  dataset {dataset.Dataset.Name}: {where}; sources: {string.Join(", ", dataset.Configs.Select(c => c.Source))}; secrets: {dataset.SecretEnv.Count}");
                foreach (var config in dataset.Configs.Where(c => c.Gateway is not null))
                {
                    report.AppendLine($"  dataset {config.Name}: read through {config.Gateway!.Source} at {config.Gateway.Options["endpoint"]} (runtime {config.Gateway.Runtime}), falling back to {config.Source}");
                }
            }
        }

        foreach (var warning in outcome.Warnings)
        {
            report.AppendLine($"  warning: {warning}");
        }
    }
}
