using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Analysis;

/// <summary>Each Service a webhook calls has a ready endpoint. Without one the API server's call fails and, with
/// failurePolicy Fail, every pod the webhook matches is refused ("no endpoints available for service").</summary>
internal sealed class WebhookEndpointsAnalyzer : IAnalyzer
{
    public IEnumerable<Finding> Analyze(ClusterSnapshot snapshot)
    {
        var services = (snapshot.WebhookConfiguration?.Arr("webhooks").Objects() ?? [])
            .Select(w => (Webhook: w.Str("name") ?? "", Service: w.Obj("clientConfig").Obj("service")))
            .Where(w => w.Service is not null)
            .GroupBy(w => (Namespace: w.Service.Str("namespace") ?? "default", Name: w.Service.Str("name") ?? ""))
            .OrderBy(g => g.Key);
        foreach (var service in services)
        {
            var endpoints = snapshot.ServiceEndpoints.GetValueOrDefault(service.Key) ?? new ServiceEndpoints(0, 0, "no EndpointSlices or Endpoints");
            if (endpoints.Ready > 0)
            {
                continue;
            }

            var webhooks = string.Join(", ", service.Select(w => $"'{w.Webhook}'"));
            yield return new Finding(FindingCodes.NoReadyEndpoints, Severity.Error, new ObjectRef("Service", service.Key.Namespace, service.Key.Name),
                $"the Service has no ready endpoints ({endpoints.Source}: {endpoints.Ready} ready, {endpoints.NotReady} not ready); the API server cannot call webhook {webhooks}, "
                + "and with failurePolicy Fail it refuses every pod the webhook matches",
                $"kubectl -n {service.Key.Namespace} get pods -l app.kubernetes.io/name=fluid-serverless-injector; an injector is ready once its caches "
                + $"have listed and a certificate is loaded (kubectl -n {service.Key.Namespace} logs deploy/fluid-serverless-injector)");
        }
    }
}
