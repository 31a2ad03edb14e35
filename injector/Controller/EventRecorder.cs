using System.Globalization;
using k8s;
using k8s.Models;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>Kubernetes Events (core/v1) about the objects the controller acts on: <c>kubectl describe</c> shows them.</summary>
internal sealed class EventRecorder(IKubernetes client, TimeProvider time)
{
    public const string Component = "fluid-serverless-controller";

    /// <param name="apiVersion">The involved object's API version (v1 for pods, data.fluid.io/v1alpha1 for Datasets).</param>
    public async Task WarnAsync(string apiVersion, string kind, string @namespace, string name, string? uid, string reason, string message, CancellationToken cancel)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var @event = new Corev1Event
        {
            Metadata = new V1ObjectMeta
            {
                Name = $"{name}.{now.Ticks.ToString("x", CultureInfo.InvariantCulture)}",
                NamespaceProperty = @namespace,
            },
            InvolvedObject = new V1ObjectReference { ApiVersion = apiVersion, Kind = kind, Name = name, NamespaceProperty = @namespace, Uid = uid },
            Reason = reason,
            Message = message.Length > 1024 ? message[..1021] + "..." : message,
            Type = "Warning",
            Source = new V1EventSource { Component = Component },
            ReportingComponent = Component,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        await client.CoreV1.CreateNamespacedEventAsync(@event, @namespace, cancellationToken: cancel);
    }
}
