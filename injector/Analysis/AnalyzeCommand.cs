using System.Net.Http;
using Fluid.Serverless.Injector.Kubernetes;
using k8s.Autorest;
using k8s.Exceptions;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>
/// <c>fluid-injector analyze</c>: reads a live cluster (kubeconfig or in-cluster) and reports what keeps injection from
/// working, like istioctl analyze. Exit code 0 without errors (warnings allowed), 1 with errors, 2 for bad usage,
/// 3 when the cluster cannot be read.
/// </summary>
internal static class AnalyzeCommand
{
    public const string Usage = """
        usage:
          fluid-injector analyze [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] [-o text|json]
                                 [--injector-namespace NS] [--webhook NAME] [--tls-secret NAME] [--configmap NAME] [--injector-config FILE]
        Reads the cluster (--kubeconfig, else in-cluster, else $KUBECONFIG or ~/.kube/config) and reports findings with a
        code, a severity, the object and the fix. Exit code 1 when any finding is an Error.
        -n NAMESPACE          analyze only the pods of this namespace (default: every namespace)
        -o, --output          text (default) or json
        --injector-namespace  where the injector is installed (default fluid-serverless)
        --webhook             its MutatingWebhookConfiguration (default fluid-serverless-injector)
        --tls-secret          the Secret with its serving certificate, tls.crt (default fluid-serverless-injector-tls)
        --configmap           its configuration ConfigMap (default fluid-serverless-injector)
        --injector-config     the injector's configuration from a file instead of the ConfigMap
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        string? kubeconfig = null;
        string? context = null;
        string? podNamespace = null;
        string? configFile = null;
        var output = "text";
        var injectorNamespace = "fluid-serverless";
        var webhook = "fluid-serverless-injector";
        var tlsSecret = "fluid-serverless-injector-tls";
        var configMap = "fluid-serverless-injector";
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                stdout.WriteLine(Usage);
                return 0;
            }

            if (i + 1 >= args.Length)
            {
                stderr.WriteLine(args[i].StartsWith('-') ? $"option '{args[i]}' needs a value" : $"unexpected argument '{args[i]}'");
                stderr.WriteLine(Usage);
                return 2;
            }

            var value = args[++i];
            switch (args[i - 1])
            {
                case "--kubeconfig":
                    kubeconfig = value;
                    break;
                case "--context":
                    context = value;
                    break;
                case "-n" or "--namespace":
                    podNamespace = value;
                    break;
                case "-o" or "--output" when value is "text" or "json":
                    output = value;
                    break;
                case "-o" or "--output":
                    stderr.WriteLine($"invalid value '{value}' for --output: expected 'text' or 'json'");
                    return 2;
                case "--injector-namespace":
                    injectorNamespace = value;
                    break;
                case "--webhook":
                    webhook = value;
                    break;
                case "--tls-secret":
                    tlsSecret = value;
                    break;
                case "--configmap":
                    configMap = value;
                    break;
                case "--injector-config":
                    configFile = value;
                    break;
                default:
                    stderr.WriteLine($"unknown option '{args[i - 1]}'");
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }

        var scope = new AnalyzeScope(injectorNamespace, webhook, tlsSecret, configMap, podNamespace, configFile);
        ClusterSnapshot snapshot;
        try
        {
            using var client = KubernetesConnection.FromKubeconfig(kubeconfig, context);
            var (loaded, note) = await ClusterSnapshotLoader.LoadAsync(client, scope, cancel);
            if (note is not null)
            {
                stderr.WriteLine($"note: {note}");
            }

            snapshot = loaded;
        }
        catch (Exception exception) when (exception is KubeConfigException or HttpOperationException or HttpRequestException or IOException or InvalidDataException)
        {
            stderr.WriteLine($"cannot read the cluster: {exception.Message}");
            return 3;
        }

        var findings = AnalysisRunner.Run(snapshot);
        var where = podNamespace is null ? "all namespaces" : $"namespace '{podNamespace}'";
        stdout.Write(output == "json" ? FindingFormatter.Json(findings) : FindingFormatter.Text(findings, where));
        return findings.Any(f => f.Severity == Severity.Error) ? 1 : 0;
    }
}
