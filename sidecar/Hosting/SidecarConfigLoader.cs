using System.Collections;
using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>What the command line and environment asked for: a validated config, or the reasons it is unusable.</summary>
internal sealed record SidecarConfigLoadResult(SidecarConfig? Config, IReadOnlyList<string> Errors, string Origin, bool Demo)
{
    /// <summary>The file to watch for live changes, when the config came from one.</summary>
    public ConfigFileWatcherOptions? Watch { get; init; }

    public bool Succeeded => Config is not null && Errors.Count == 0;
}

/// <summary>
/// Finds and reads the sidecar config, in this order: <c>--demo</c> (the bundled sample dataset),
/// <c>--config FILE</c>, env <c>FLUID_SIDECAR_CONFIG_FILE</c> (a JSON file), env <c>FLUID_SIDECAR_ANNOTATIONS_FILE</c>
/// (the downward-API annotations file; the config is its serverless.fluid.io/sidecar-config entry), else the
/// defaults with no dataset. Then a few env overrides apply (ports, addresses, cache directory: what an operator
/// changes without editing the annotation) and <see cref="ConfigValidator"/> runs. Files are read by
/// <see cref="SidecarConfigFile"/> and validated by <see cref="ConfigValidator"/>, the same reader and validator as live
/// reload, so a config that starts is a config that reloads and the other way round.
/// </summary>
internal static class SidecarConfigLoader
{
    public const string S3PortVariable = "FLUID_S3_PORT";
    public const string S3AddressVariable = "FLUID_S3_ADDRESS";
    public const string AdminPortVariable = "FLUID_ADMIN_PORT";
    public const string AdminAddressVariable = "FLUID_ADMIN_ADDRESS";
    public const string CacheDirectoryVariable = "FLUID_CACHE_DIR";

    public static SidecarConfigLoadResult Load(IReadOnlyList<string> args, IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);

        var errors = new List<string>();
        var demo = false;
        string? configFile = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--demo":
                    demo = true;
                    break;
                case "--config" when i + 1 < args.Count:
                    configFile = args[++i];
                    break;
                case "--config":
                    errors.Add("--config: missing value: expected --config FILE (a JSON sidecar config)");
                    break;
                default:
                    if (args[i].StartsWith("--config=", StringComparison.Ordinal))
                    {
                        configFile = args[i]["--config=".Length..];
                    }
                    else
                    {
                        errors.Add($"'{args[i]}' is not an option: expected --config FILE or --demo");
                    }

                    break;
            }
        }

        if (errors.Count > 0)
        {
            return new SidecarConfigLoadResult(null, errors, "command line", demo);
        }

        configFile ??= Get(environment, EnvironmentNames.SidecarConfigFile);
        var annotationsFile = Get(environment, EnvironmentNames.SidecarAnnotationsFile);
        SidecarConfig? config;
        string origin;
        ConfigFileWatcherOptions? watch = null;
        if (demo)
        {
            (config, origin) = DemoDataset.CreateConfig(errors);
        }
        else if (configFile is not null)
        {
            origin = $"config file '{configFile}'";
            config = ReadFile(configFile, ConfigFileKind.Json, errors);
            watch = new ConfigFileWatcherOptions { Path = configFile, Kind = ConfigFileKind.Json };
        }
        else if (annotationsFile is not null)
        {
            origin = $"annotation '{Annotations.SidecarConfig}' in '{annotationsFile}'";
            config = ReadFile(annotationsFile, ConfigFileKind.Annotations, errors);
            watch = new ConfigFileWatcherOptions { Path = annotationsFile, Kind = ConfigFileKind.Annotations };
        }
        else
        {
            origin = "defaults (no --config, FLUID_SIDECAR_CONFIG_FILE or FLUID_SIDECAR_ANNOTATIONS_FILE)";
            config = new SidecarConfig();
        }

        if (config is null)
        {
            return new SidecarConfigLoadResult(null, errors, origin, demo);
        }

        config = ApplyOverrides(config, environment, errors);
        errors.AddRange(ConfigValidator.Validate(config));
        return new SidecarConfigLoadResult(errors.Count == 0 ? config : null, errors, origin, demo) { Watch = watch };
    }

    /// <summary>Parses a config JSON document with the same reader as the config files (<see cref="SidecarConfigFile"/>).</summary>
    public static SidecarConfig? Parse(string json, string origin, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var read = SidecarConfigFile.Parse(System.Text.Encoding.UTF8.GetBytes(json), origin, ConfigFileKind.Json);
        if (read.Error is not null)
        {
            errors.Add(read.Error);
        }

        return read.Config;
    }

    /// <summary>Reads a config file with the reader live reload uses (size cap included).</summary>
    private static SidecarConfig? ReadFile(string path, ConfigFileKind kind, List<string> errors)
    {
        var read = SidecarConfigFile.Read(path, kind);
        if (read.Error is not null)
        {
            errors.Add(read.Error);
        }

        return read.Config;
    }

    /// <summary>The env overrides, also applied to every live-reloaded config so they keep holding.</summary>
    public static SidecarConfig ApplyOverrides(SidecarConfig config, IDictionary environment, List<string> errors)
    {
        var s3 = config.S3 with
        {
            Address = Get(environment, S3AddressVariable) ?? config.S3.Address,
            Port = GetPort(environment, S3PortVariable, errors) ?? config.S3.Port,
        };
        var admin = config.Admin with
        {
            Address = Get(environment, AdminAddressVariable) ?? config.Admin.Address,
            Port = GetPort(environment, AdminPortVariable, errors) ?? config.Admin.Port,
        };
        var cache = Get(environment, CacheDirectoryVariable) is { } directory ? config.Cache with { Directory = directory } : config.Cache;
        return config with { S3 = s3, Admin = admin, Cache = cache };
    }

    private static int? GetPort(IDictionary environment, string name, List<string> errors)
    {
        if (Get(environment, name) is not { } value)
        {
            return null;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
        {
            return port;
        }

        errors.Add($"{name}: '{value}' is not a port: expected 0-65535");
        return null;
    }

    private static string? Get(IDictionary environment, string name) =>
        environment[name] is string { Length: > 0 } value ? value : null;
}
