using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Authentication;
using Fluid.Serverless.Contracts.Metrics;
using Fluid.Serverless.Injector.Admission;
using Fluid.Serverless.Injector.Certificates;
using Fluid.Serverless.Injector.Controller;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Kubernetes;
using Fluid.Serverless.Injector.Mutation;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Settings;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Hosting;

/// <summary>Builds the webhook: Kestrel on HTTPS only (TLS 1.2+), /mutate, /healthz, /readyz, /metrics.</summary>
internal static partial class InjectorHost
{
    public static WebApplication Build(string[] args, Action<IServiceCollection>? overrides = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Configuration.AddEnvironmentVariables("FLUID_INJECTOR_");
        var server = builder.Configuration.GetSection("Server").Get<ServerSettings>() ?? new ServerSettings();
        var options = InjectorOptionsReader.Read(builder.Configuration.GetSection("Injector"));
        return Build(builder, server, options, overrides);
    }

    /// <param name="controller">The controller's options; null: section "Controller" of the builder's configuration.</param>
    public static WebApplication Build(WebApplicationBuilder builder, ServerSettings server, InjectorOptions options, Action<IServiceCollection>? overrides = null, ControllerOptions? controller = null)
    {
        controller ??= builder.Configuration.GetSection("Controller").Get<ControllerOptions>() ?? new ControllerOptions();
        var certificates = new CertificateStore();
        var clientAuthentication = ClientCertificateAuthentication.FromSettings(server);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = AdmissionEndpoint.MaxBodyBytes;
            kestrel.Listen(IPAddress.Parse(server.ListenAddress), server.Port, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ServerCertificateSelector = (_, _) => certificates.Current,
                // the handshake takes any certificate (probes send none, scrapers may send their own); /mutate decides
                ClientCertificateMode = clientAuthentication is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = clientAuthentication is null ? null : static (_, _, _) => true,
            }));
        });

        var services = builder.Services;
        var sync = new CacheSyncStatus();
        string? detectedVersion = null;
        if (server.WatchCluster)
        {
            var client = KubernetesConnection.Create(server);
            if (server.DetectNativeSidecar && KubernetesConnection.TryDetectNativeSidecars(client, out var native, out var version))
            {
                options = options with { NativeSidecarSupported = native };
                detectedVersion = version;
            }

            services.AddSingleton<IKubernetes>(client);
            // the controller reads injected pods; without it the injector never lists a pod
            IReadOnlyList<WatchedResource> watched = controller.Enabled ? [.. WatchedResource.All, WatchedResource.InjectedPods, WatchedResource.DataLoads, WatchedResource.DataLoadJobs] : WatchedResource.All;
            foreach (var resource in watched)
            {
                sync.Expect(resource.Kind); // before the first /readyz: not ready until every cache has listed
            }

            services.AddHostedService(provider => new ClusterWatcher(
                provider.GetRequiredService<IKubernetes>(), provider.GetRequiredService<ClusterState>(), sync,
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ClusterWatcher>>(), watched));
            if (controller.Enabled)
            {
                services.AddLeaderElectedController(controller, () => sync.IsSynced);
            }
        }

        services.AddSingleton(server);
        services.AddSingleton(options);
        services.AddSingleton(certificates);
        services.AddSingleton(TimeProvider.System);
        var cluster = new ClusterState();
        if (!server.WatchCluster && server.ClusterStateFile is { Length: > 0 } clusterFile)
        {
            ClusterStateLoader.LoadYaml(cluster, File.ReadAllText(clusterFile));
        }

        services.AddSingleton(cluster);
        services.AddSingleton(sync);
        services.AddSingleton<AdmissionMetrics>();
        services.AddSingleton(sp =>
        {
            _ = sp.GetRequiredService<AdmissionMetrics>();
            return PrometheusMeterExporter.ForScope(sp.GetRequiredService<IMeterFactory>(), MeterNames.Injector);
        });
        services.AddSingleton<PodInjector>();
        services.AddSingleton<AdmissionReviewProcessor>();
        services.AddSingleton<AdmissionEndpoint>();
        if (server.CertificateMode == "files")
        {
            services.AddSingleton(provider => new FileCertificateReloader(
                certificates, server.CertificateFile, server.KeyFile, TimeSpan.FromSeconds(server.CertificatePollSeconds),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<FileCertificateReloader>>()));
            services.AddHostedService(provider =>
            {
                var reloader = provider.GetRequiredService<FileCertificateReloader>();
                reloader.TryLoad(); // before Kestrel accepts the first handshake
                return reloader;
            });
        }

        else if (server.CertificateMode == "self-managed")
        {
            if (!server.WatchCluster)
            {
                throw new InvalidOperationException("Server:CertificateMode 'self-managed' needs the API server (Server:WatchCluster true)");
            }

            services.AddHostedService<SelfManagedCertificates>();
        }
        else
        {
            throw new InvalidOperationException($"invalid value '{server.CertificateMode}' for Server:CertificateMode: expected 'files' or 'self-managed'");
        }

        overrides?.Invoke(services);

        var app = builder.Build();

        // The exporter's listener must exist before the first admission records: it sums only what it hears.
        _ = app.Services.GetRequiredService<PrometheusMeterExporter>();
        var startupLogger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Fluid.Serverless.Injector");
        Log.Starting(startupLogger, detectedVersion ?? "not queried", options.NativeSidecarSupported ? "native" : "legacy", server.CertificateMode, server.WatchCluster);
        var endpoint = app.Services.GetRequiredService<AdmissionEndpoint>();
        if (clientAuthentication is null)
        {
            app.Map("/mutate", endpoint.HandleAsync);
        }
        else
        {
            app.Map("/mutate", context => clientAuthentication.Refusal(context) is { } refusal
                ? WriteRefusalAsync(context, refusal.Status, refusal.Message)
                : endpoint.HandleAsync(context));
        }


        app.MapGet("/healthz", static context => context.Response.WriteAsync("ok"));
        app.MapGet("/readyz", static context =>
        {
            var sync = context.RequestServices.GetRequiredService<CacheSyncStatus>();
            var certificate = context.RequestServices.GetRequiredService<CertificateStore>();
            if (sync.IsSynced && certificate.IsLoaded)
            {
                return context.Response.WriteAsync("ready");
            }

            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            var waiting = sync.Pending.Select(p => "cache " + p).Concat(certificate.IsLoaded ? [] : ["serving certificate"]);
            return context.Response.WriteAsync("not ready: waiting for " + string.Join(", ", waiting));
        });
        app.MapGet("/metrics", static context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return context.Response.WriteAsync(context.RequestServices.GetRequiredService<PrometheusMeterExporter>().ToText());
        });
        return app;
    }

    private static Task WriteRefusalAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(new System.Text.Json.Nodes.JsonObject { ["error"] = message }.ToJsonString());
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.Starting, LogLevel.Information, "starting: API server version {Version}, {SidecarForm} sidecars by default, certificates {CertificateMode}, watching the cluster: {Watching}")]
        public static partial void Starting(ILogger logger, string version, string sidecarForm, string certificateMode, bool watching);
    }
}
