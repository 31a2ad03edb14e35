using System.Globalization;
using Fluid.Serverless.Injector.Settings;
using k8s;

namespace Fluid.Serverless.Injector.Kubernetes;

/// <summary>Creates the API client (in-cluster, kubeconfig, or an explicit URL) and reads the server version.</summary>
internal static class KubernetesConnection
{
    public static IKubernetes Create(ServerSettings server)
    {
        var configuration = server.ApiServerUrl is { Length: > 0 } url
            ? new KubernetesClientConfiguration { Host = url }
            : KubernetesClientConfiguration.IsInCluster()
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile();
        return new k8s.Kubernetes(configuration);
    }

    /// <summary>For the command line tools: the given kubeconfig file, else in-cluster, else ~/.kube/config (or $KUBECONFIG).</summary>
    public static IKubernetes FromKubeconfig(string? kubeconfig, string? context = null)
    {
        var configuration = kubeconfig is not null
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig, context)
            : context is null && KubernetesClientConfiguration.IsInCluster()
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile(currentContext: context);
        return new k8s.Kubernetes(configuration);
    }

    /// <summary>Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29.</summary>
    public static bool TryDetectNativeSidecars(IKubernetes client, out bool native, out string version)
    {
        native = false;
        version = "";
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var info = client.Version.GetCodeAsync(timeout.Token).GetAwaiter().GetResult();
            version = info.GitVersion ?? $"{info.Major}.{info.Minor}";
            native = IsAtLeast(info.Major, info.Minor, 1, 29);
            return true;
        }
#pragma warning disable CA1031 // detection is best effort: the configured default stays
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    /// <summary>Minor versions look like "29" or "29+" (managed clusters).</summary>
    public static bool IsAtLeast(string? major, string? minor, int wantedMajor, int wantedMinor)
    {
        static int Number(string? text) =>
            int.TryParse(new string((text ?? "").TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
        var majorNumber = Number(major);
        return majorNumber > wantedMajor || (majorNumber == wantedMajor && Number(minor) >= wantedMinor);
    }
}
