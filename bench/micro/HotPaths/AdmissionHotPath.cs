using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Admission;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fluid.Serverless.Micro.HotPaths;

/// <summary>
/// One admission through the injector's real <c>POST /mutate</c> handler (<see cref="AdmissionEndpoint"/> →
/// <see cref="AdmissionReviewProcessor"/> → <see cref="PodInjector"/> → JSON Patch), in process, with the cluster
/// state of bench/injector (one Dataset, its claim) and one reused <see cref="DefaultHttpContext"/> whose response body
/// keeps only a count. The same two pods as bench/injector: a small one (3 env vars) and a huge one (1,500 env vars,
/// 200 volumes). Used by bench/micro (BenchmarkDotNet) and by the allocation budget test in the injector's tests.
/// </summary>
internal sealed class AdmissionHotPath
{
    private const string ClusterYaml = """
        apiVersion: data.fluid.io/v1alpha1
        kind: Dataset
        metadata: {name: imagenet, namespace: default}
        spec:
          mounts:
          - mountPoint: s3://imagenet-bucket/v1
            encryptOptions:
            - name: fs.s3a.access.key
              valueFrom: {secretKeyRef: {name: imagenet-s3, key: accessKey}}
        """;

    private readonly AdmissionEndpoint _endpoint;
    private readonly DefaultHttpContext _context = new();
    private readonly HttpRequestFeature _request = new();
    private readonly HttpResponseFeature _response = new();
    private readonly MemoryStream _requestBody;
    private readonly MemoryStream _responseBody = new();

    public AdmissionHotPath(int envVars, int extraVolumes)
    {
        var cluster = new ClusterState();
        ClusterStateLoader.LoadYaml(cluster, ClusterYaml);
        var processor = new AdmissionReviewProcessor(new PodInjector(cluster, new InjectorOptions()));
        // The meters of a real host: recording the admission's latency and outcome is part of the measured path.
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        _endpoint = new AdmissionEndpoint(processor, new AdmissionMetrics(meters), TimeProvider.System, NullLogger<AdmissionEndpoint>.Instance);
        ReviewBytes = Encoding.UTF8.GetBytes(Review(envVars, extraVolumes).ToJsonString());
        _requestBody = new MemoryStream(ReviewBytes, writable: false);
        _context.Features.Set<IHttpRequestFeature>(_request);
        _context.Features.Set<IHttpResponseFeature>(_response);
        _context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(_responseBody));
    }

    public byte[] ReviewBytes { get; }

    /// <summary>The last response body (an AdmissionReview with a base64 JSON Patch when the pod was injected).</summary>
    public ReadOnlySpan<byte> LastResponse => _responseBody.GetBuffer().AsSpan(0, (int)_responseBody.Length);

    /// <summary>One admission; returns the HTTP status.</summary>
    public async Task<int> AdmitAsync()
    {
        _requestBody.Position = 0;
        _responseBody.SetLength(0);
        _request.Method = HttpMethods.Post;
        _request.Path = "/mutate";
        _request.Headers.Clear();
        _request.Headers.ContentType = "application/json";
        _request.Headers.ContentLength = ReviewBytes.Length;
        _request.Body = _requestBody;
        _response.StatusCode = StatusCodes.Status200OK;
        _response.Headers.Clear();
        await _endpoint.HandleAsync(_context);
        await _context.Response.BodyWriter.FlushAsync();
        return _response.StatusCode;
    }

    private static JsonObject Review(int envVars, int extraVolumes)
    {
        var env = new JsonArray();
        for (var i = 0; i < envVars; i++)
        {
            env.Add(new JsonObject { ["name"] = $"VAR_{i:D4}", ["value"] = $"value-{i}" });
        }

        var mounts = new JsonArray { new JsonObject { ["name"] = "data", ["mountPath"] = "/data" } };
        var volumes = new JsonArray { new JsonObject { ["name"] = "data", ["persistentVolumeClaim"] = new JsonObject { ["claimName"] = "imagenet" } } };
        for (var i = 0; i < extraVolumes; i++)
        {
            mounts.Add(new JsonObject { ["name"] = $"cfg-{i:D3}", ["mountPath"] = $"/etc/cfg/{i:D3}" });
            volumes.Add(new JsonObject { ["name"] = $"cfg-{i:D3}", ["configMap"] = new JsonObject { ["name"] = $"cfg-{i:D3}" } });
        }

        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = "bench", ["labels"] = new JsonObject { ["serverless.fluid.io/inject"] = "true" } },
            ["spec"] = new JsonObject
            {
                ["containers"] = new JsonArray { new JsonObject { ["name"] = "app", ["image"] = "python:3.11", ["env"] = env, ["volumeMounts"] = mounts } },
                ["volumes"] = volumes,
            },
        };
        return new JsonObject
        {
            ["apiVersion"] = "admission.k8s.io/v1",
            ["kind"] = "AdmissionReview",
            ["request"] = new JsonObject
            {
                ["uid"] = "bench",
                ["kind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = "Pod" },
                ["resource"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["resource"] = "pods" },
                ["namespace"] = "default",
                ["operation"] = "CREATE",
                ["object"] = pod,
            },
        };
    }
}
