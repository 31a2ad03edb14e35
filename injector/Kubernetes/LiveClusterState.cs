using System.Net;
using Fluid.Serverless.Injector.Datasets;
using k8s;
using k8s.Autorest;

namespace Fluid.Serverless.Injector.Kubernetes;

/// <summary>One list (no watch) of every kind the webhook caches, into a <see cref="ClusterState"/>: what the command
/// line tools read from a live cluster instead of a --cluster file. A kind whose CRD is not installed is empty, as
/// it is for the webhook.</summary>
internal static class LiveClusterState
{
    public static async Task LoadAsync(IKubernetes client, ClusterState state, CancellationToken cancel)
    {
        foreach (var resource in WatchedResource.All)
        {
            try
            {
                var (items, _) = await resource.ListAsync(client, cancel);
                ClusterStateLoader.ReplaceAll(state, resource.Kind, items);
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // the CRD is not installed: nothing of that kind
            }
        }
    }
}
