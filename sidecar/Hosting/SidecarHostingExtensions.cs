using System.Diagnostics.Metrics;
using System.Net;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Contracts.Metrics;
using Fluid.Serverless.Sidecar.Admin;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Configuration;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Metrics;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.S3Api;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>The composition root: <c>AddFluidSidecar</c> → <c>MapFluidSidecar</c> → <c>RunFluidSidecarAsync</c>.</summary>
internal static class SidecarHostingExtensions
{
    /// <summary>
    /// How long in-flight requests get after SIGTERM before they are cut (serverless pods pay for every second).
    /// 750 ms, not 1 s: the promise is SIGTERM → process exit ≤ 1 s, and disposing the host and leaving the process
    /// take ~70 ms after the timeout (bench/footprint measured 1,071 ms with a 1 s timeout and a stalled client).
    /// </summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromMilliseconds(750);

    /// <summary>Kestrel's request-header budget: larger headers get 431 and the connection closes; the process keeps serving.</summary>
    public const int MaxRequestHeadersTotalSize = ListenerLimits.MaxRequestHeadersTotalSize;

    /// <summary>
    /// Registers the sidecar's services and its two Kestrel listeners. Services registered before this call win
    /// (TryAdd), which is how tests substitute a source factory or object reader.
    /// </summary>
    public static WebApplicationBuilder AddFluidSidecar(
        this WebApplicationBuilder builder,
        SidecarConfig config,
        string configOrigin = "code",
        ConfigFileWatcherOptions? watch = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(config);

        // ASP.NET Core logs two Information lines per request (Hosting.Diagnostics): at thousands of range reads a
        // second that is most of the console output and a measurable share of CPU. Our own components log what
        // matters; the host's lifetime messages stay.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Hosting starts an Activity and a log scope for every request while its diagnostics logger is enabled at any
        // level: ~600 bytes and a random trace id per request, for a category that only logs request start and end
        // (Information, filtered out above). Turned off, nothing is created per request.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        var listeners = new SidecarListeners();
        builder.WebHost.UseSockets(sockets => sockets.MaxWriteBufferSize = ListenerLimits.MaxResponseBufferSize);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            ListenerLimits.ApplyServerLimits(kestrel);
            kestrel.Listen(IPAddress.Parse(config.S3.Address), config.S3.Port, options => listeners.S3 = options);
            kestrel.Listen(IPAddress.Parse(config.Admin.Address), config.Admin.Port, options =>
            {
                listeners.Admin = options;
                ListenerLimits.CapConnections(options, ListenerLimits.ProbeMaxConnections);
            });
            // Loopback only, whatever the config says: this listener serves what reveals or changes the sidecar.
            kestrel.Listen(IPAddress.Parse(SidecarDefaults.AdminLocalAddress), config.Admin.LocalPort, options => listeners.AdminLocal = options);
        });

        var services = builder.Services;

        // Kestrel's socket transport takes its memory pool factory from the services; the last registration wins.
        services.AddSingleton<IMemoryPoolFactory<byte>, TransportBlockPool.Factory>();
        services.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownTimeout);
        services.AddSingleton(config);
        services.AddSingleton(new SidecarConfigSource(configOrigin));
        services.AddSingleton(listeners);
        services.TryAddSingleton(TimeProvider.System);

        // The read path every view shares: sources (with their resilience pipelines) behind the metadata cache,
        // the disk block cache and the object reader. Tests may register their own source factory first.
        services.TryAddSingleton<ISourceFactory>(sp => MetadataCachingSourceFactory.ForServing(
            config.Cache,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        if (!services.Any(d => d.ServiceType == typeof(IObjectReader)))
        {
            services.AddBlockCache(config.Cache, config.Prefetch);
        }

        services.TryAddSingleton(sp => new DatasetRegistry(sp.GetRequiredService<ILogger<DatasetRegistry>>()));
        services.TryAddSingleton<IDatasetRegistry>(sp => sp.GetRequiredService<DatasetRegistry>());
        services.AddPrefetch(config.Prefetch);
        services.AddVolumes(VolumeOptions.FromConfig(config));
        services.AddSingleton(sp => new ConfigApplier(
            sp.GetRequiredService<ISourceFactory>(),
            sp.GetRequiredService<DatasetRegistry>(),
            sp.GetService<PrefetchManager>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ConfigApplier>>()));
        services.AddHostedService(sp => new DatasetStartup(sp.GetRequiredService<ConfigApplier>(), config));
        if (watch is not null)
        {
            // Live reload: the same env overrides hold for every new config; a config that fails, or that widens what the
            // pod was admitted with (the start-up config), is rejected whole.
            services.AddSingleton(sp =>
            {
                var watcher = new ConfigFileWatcher(watch, ConfigValidator.Validate, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ConfigFileWatcher>>());
                var applier = sp.GetRequiredService<ConfigApplier>();
                var guard = new ConfigReloadGuard(config);
                var environment = Environment.GetEnvironmentVariables();
                watcher.ConfigChanged += next =>
                {
                    var errors = new List<string>();
                    var overridden = SidecarConfigLoader.ApplyOverrides(next, environment, errors);
                    if (errors.Count == 0)
                    {
                        errors.AddRange(guard.Check(overridden));
                        if (errors.Count > 0)
                        {
                            throw new InvalidOperationException("it widens what the pod was admitted with: " + string.Join("; ", errors));
                        }
                    }

                    applier.Apply(errors.Count == 0 ? overridden : throw new InvalidOperationException(string.Join("; ", errors)));
                };
                return watcher;
            });
            // A wrapper, not the watcher itself: the container would otherwise dispose the same instance twice.
            services.AddHostedService(sp => new HostedServiceAdapter(sp.GetRequiredService<ConfigFileWatcher>()));
        }

        // Returns the block buffers of a finished cold burst to the OS (bench/footprint: loaded RSS).
        services.AddHostedService(sp => new MemoryTrimmer(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<MemoryTrimmer>>()));

        services.AddSingleton(sp => new SidecarMeter(sp.GetRequiredService<IMeterFactory>()));
        services.AddSharedBlockTier(config.SharedCache, Environment.GetEnvironmentVariables());
        services.AddSingleton(sp =>
        {
            var meter = sp.GetRequiredService<SidecarMeter>();
            var metrics = new SidecarMetrics(meter);
            MetricsCollectors.Register(
                meter,
                sp.GetRequiredService<IDatasetRegistry>(),
                sp.GetService<IBlockCache>(),
                sp.GetService<IPrefetchStatus>(),
                sp.GetService<ConfigFileWatcher>(),
                sp.GetService<IVolumeStatus>());
            return metrics;
        });
        services.AddSingleton(sp =>
        {
            // Every instrument exists once SidecarMetrics does (it registers the components' observable ones).
            _ = sp.GetRequiredService<SidecarMetrics>();
            return sp.GetRequiredService<SidecarMeter>().CreateExporter();
        });
        services.AddSingleton(sp => new AdminEndpoints(
            sp.GetRequiredService<PrometheusMeterExporter>(),
            sp.GetRequiredService<IDatasetRegistry>(),
            config,
            sp.GetRequiredService<SidecarConfigSource>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetService<IBlockCache>(),
            sp.GetService<IPrefetchStatus>(),
            sp.GetService<IVolumeStatus>(),
            sp.GetService<ConfigFileWatcher>(),
            sp.GetService<ISharedBlockTier>()));
        if (config.Upstream is { Endpoint.Length: > 0 })
        {
            services.AddHttpForwarder();
        }

        services.AddSingleton(sp => new S3RequestHandler(
            sp.GetRequiredService<IDatasetRegistry>(),
            sp.GetRequiredService<IObjectReader>(),
            sp.GetRequiredService<SidecarMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<S3RequestHandler>>(),
            config.VirtualHostDomains,
            sp.GetService<IBlockCache>(),
            CreateSignatureVerifier(config, sp),
            CreateUpstreamForwarder(config, sp),
            sp.GetRequiredService<S3Api.Writes.UploadStaging>()));
        services.AddSingleton(new S3Api.Writes.UploadStaging(Path.Combine(config.Cache.Directory, "uploads"), config.Cache.StagingBytes ?? SidecarDefaults.UploadStagingBytes));
        services.AddHostedService<S3Api.Writes.UploadStagingSweeper>();
        // Files written through the FUSE view share the upload staging budget (cache.stagingBytes).
        services.AddSingleton(sp => new Volume.Fuse.FuseStaging(
            Path.Combine(config.Cache.Directory, "fuse-staging"),
            sp.GetRequiredService<S3Api.Writes.UploadStaging>().Space,
            sp.GetService<IBlockCache>(),
            new FuseWriteStatistics())
        {
            WriteBackDelay = config.Fuse?.WriteBack is { } writeBack ? TimeSpan.FromSeconds(writeBack.DelaySeconds) : null,
            WriteBackMaxBacklogBytes = config.Fuse?.WriteBack?.MaxBacklogBytes ?? 0,
        });

        if (config.Credentials?.GeneratedFile is { } generatedFile)
        {
            // Before the listeners open (hosted services start before Kestrel): /readyz is never ready without the file.
            services.AddSingleton(new GeneratedCredentialsWriter(generatedFile));
            // Not through HostedServiceAdapter: AddHostedService keeps one registration per implementation type.
            services.AddHostedService(sp => sp.GetRequiredService<GeneratedCredentialsWriter>());
        }

        services.AddSingleton<ConfigReadinessCheck>();
        services.AddSingleton(sp => new DatasetsReadinessCheck(sp.GetRequiredService<DatasetRegistry>()));
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration("config", sp => sp.GetRequiredService<ConfigReadinessCheck>(), HealthStatus.Unhealthy, [HealthCheckTags.Ready]))
            .Add(new HealthCheckRegistration("datasets", sp => sp.GetRequiredService<DatasetsReadinessCheck>(), HealthStatus.Unhealthy, [HealthCheckTags.Ready]))
            .Add(new HealthCheckRegistration("volumes", sp => new VolumesReadinessCheck(sp.GetService<IVolumeStatus>()), HealthStatus.Unhealthy, [HealthCheckTags.Ready]));
        return builder;
    }

    /// <summary>Passthrough for buckets that are not datasets, only when an upstream endpoint is configured.</summary>
    private static S3Api.Passthrough.UpstreamForwarder? CreateUpstreamForwarder(SidecarConfig config, IServiceProvider services)
    {
        if (config.Upstream is not { Endpoint.Length: > 0 } upstream)
        {
            return null;
        }

        var accessKey = upstream.AccessKeyIdEnv is { } keyEnv ? Environment.GetEnvironmentVariable(keyEnv) : null;
        var secret = upstream.SecretAccessKeyEnv is { } secretEnv ? Environment.GetEnvironmentVariable(secretEnv) : null;
        if (string.IsNullOrEmpty(accessKey) || string.IsNullOrEmpty(secret))
        {
            throw new InvalidOperationException($"upstream {upstream.Endpoint}: the environment variables named by upstream.accessKeyIdEnv ('{upstream.AccessKeyIdEnv}') and upstream.secretAccessKeyEnv ('{upstream.SecretAccessKeyEnv}') must both be set");
        }

        return new S3Api.Passthrough.UpstreamForwarder(
            services.GetRequiredService<Yarp.ReverseProxy.Forwarder.IHttpForwarder>(),
            upstream,
            accessKey,
            secret,
            services.GetRequiredService<TimeProvider>(),
            Resilience.SourceResilienceOptions.From(new Sources.SourceOptions("upstream", upstream.Options)),
            services.GetRequiredService<ILoggerFactory>().CreateLogger("Fluid.Serverless.Sidecar.S3Api.Passthrough"));
    }

    /// <summary>
    /// The strict posture verifies every signature against the pod-local credentials: generated ones (read or written by
    /// <see cref="GeneratedCredentialsWriter"/>, which runs before the listeners open) or given ones. The default
    /// posture has no verifier (see <see cref="S3Api.Auth.S3AccessPolicy"/>).
    /// </summary>
    private static S3Api.Auth.SigV4Verifier? CreateSignatureVerifier(SidecarConfig config, IServiceProvider services)
    {
        var time = services.GetRequiredService<TimeProvider>();
        if (config.Credentials is not { } credentials)
        {
            return null;
        }

        if (credentials.GeneratedFile is not null)
        {
            var writer = services.GetRequiredService<GeneratedCredentialsWriter>();
            return new S3Api.Auth.SigV4Verifier(new Lazy<S3Api.Auth.PodCredentials>(() => writer.Credentials), time);
        }

        var secret = Environment.GetEnvironmentVariable(credentials.SecretAccessKeyEnv);
        return string.IsNullOrEmpty(secret)
            ? throw new InvalidOperationException($"credentials.secretAccessKeyEnv names '{credentials.SecretAccessKeyEnv}', but that environment variable is not set; it must hold the pod-local secret access key")
            : new S3Api.Auth.SigV4Verifier(credentials.AccessKeyId, secret, time);
    }

    /// <summary>Routes by local port: the probe and local admin listeners to their endpoints, everything else to the S3 handler.</summary>
    public static WebApplication MapFluidSidecar(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var listeners = app.Services.GetRequiredService<SidecarListeners>();
        // The exporter's listener must exist before the first request records: it sums only what it hears.
        _ = app.Services.GetRequiredService<PrometheusMeterExporter>();
        app.MapWhen(listeners.IsAdminRequest, AdminEndpoints.MapProbe);
        app.MapWhen(listeners.IsAdminLocalRequest, AdminEndpoints.MapLocal);
        app.Run(app.Services.GetRequiredService<S3RequestHandler>().HandleAsync);
        return app;
    }

    /// <summary>
    /// Starts, prints the demo banner when asked, and runs until SIGTERM/Ctrl+C. Returns the process exit code:
    /// 0 after a clean stop, 2 when the datasets cannot be built (the reason is logged and printed).
    /// </summary>
    public static async Task<int> RunFluidSidecarAsync(this WebApplication app, bool demo)
    {
        ArgumentNullException.ThrowIfNull(app);
        var config = app.Services.GetRequiredService<SidecarConfig>();
        try
        {
            return await RunAsync(app, demo, config);
        }
        finally
        {
            if (demo)
            {
                DemoDataset.Cleanup(config);
            }
        }
    }

    private static async Task<int> RunAsync(WebApplication app, bool demo, SidecarConfig config)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Fluid.Serverless.Sidecar");
        try
        {
            await app.StartAsync();
        }
        catch (SidecarStartupException e)
        {
            Log.StartFailed(logger, e.Message);
            await Console.Error.WriteLineAsync("fluid-sidecar: " + e.Message);
            return 2;
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || e.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel's "Failed to bind to address …: address already in use": say which setting moves it.
            var message = $"{e.Message} (change s3.port/admin.port/admin.localPort in the config, or set {SidecarConfigLoader.S3PortVariable}/{SidecarConfigLoader.AdminPortVariable})";
            Log.StartFailed(logger, message);
            await Console.Error.WriteLineAsync("fluid-sidecar: " + message);
            return 2;
        }

        var listeners = app.Services.GetRequiredService<SidecarListeners>();
        Log.Listening(logger, config.S3.Address, listeners.S3Port, config.Admin.Address, listeners.AdminPort, listeners.AdminLocalPort);
        if (demo)
        {
            await Console.Out.WriteLineAsync(DemoDataset.Banner(listeners.S3Port, listeners.AdminLocalPort));
        }

        try
        {
            await app.WaitForShutdownAsync();
        }
        catch (OperationCanceledException)
        {
            // ShutdownTimeout expired with work in flight: what was not done by then is cut (clients see a reset
            // connection, never a short body passed off as whole; cache fills are temp files until renamed).
            // That is the promised SIGTERM behaviour, so it is a clean exit, not a crash.
            Log.ShutdownTimedOut(logger, ShutdownTimeout.TotalMilliseconds);
        }

        await app.DisposeAsync();
        return 0;
    }

    /// <summary>Prints why the config is unusable; the caller exits with code 2.</summary>
    public static int ReportConfigErrors(SidecarConfigLoadResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        Console.Error.WriteLine($"fluid-sidecar: invalid configuration from {result.Origin}:");
        foreach (var error in result.Errors)
        {
            Console.Error.WriteLine("  " + error);
        }

        return 2;
    }
}

/// <summary>The datasets of the config could not be built; the process exits with code 2.</summary>
internal sealed class SidecarStartupException(string message) : Exception(message);

/// <summary>Builds the datasets before the listeners open, so the first request already sees them.</summary>
internal sealed class DatasetStartup(ConfigApplier applier, SidecarConfig config) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            applier.Apply(config);
            return Task.CompletedTask;
        }
        catch (InvalidOperationException e)
        {
            throw new SidecarStartupException("cannot build the datasets: " + e.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// The strict posture's generated credentials: read or written when the host starts, before the listeners open, so the
/// app (gated on /readyz) never starts without the file. A file that cannot be written stops the start (exit code 2).
/// </summary>
internal sealed class GeneratedCredentialsWriter(string path) : IHostedService
{
    private readonly Lazy<S3Api.Auth.PodCredentials> _credentials = new(() => Load(path));

    public S3Api.Auth.PodCredentials Credentials => _credentials.Value;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Credentials;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static S3Api.Auth.PodCredentials Load(string path)
    {
        try
        {
            return S3Api.Auth.GeneratedCredentialsFile.LoadOrCreate(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SidecarStartupException($"cannot write the generated credentials file credentials.generatedFile '{path}': {e.Message} (it must be on a writable volume shared with the app containers)");
        }
    }
}

/// <summary>Runs a singleton's Start/Stop as a hosted service without giving the container a second disposable reference.</summary>
internal sealed class HostedServiceAdapter(IHostedService inner) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);
}
