using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Injector.Datasets;
using Microsoft.Extensions.Configuration;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>
/// Reads and validates <see cref="InjectorOptions"/> from the "Injector" section. Lists are read by hand because the
/// configuration binder appends configured items to a non-empty default instead of replacing it. A bad value fails
/// the start with a message naming the setting.
/// </summary>
internal static class InjectorOptionsReader
{
    public static InjectorOptions Read(IConfigurationSection section)
    {
        var defaults = new InjectorOptions();
        var options = (section.Get<InjectorOptions>() ?? defaults) with
        {
            SidecarCommand = List(section, nameof(InjectorOptions.SidecarCommand), defaults.SidecarCommand),
            SidecarArgs = List(section, nameof(InjectorOptions.SidecarArgs), defaults.SidecarArgs),
            LegacyWaitCommand = List(section, nameof(InjectorOptions.LegacyWaitCommand), defaults.LegacyWaitCommand),
            AllowedHostPaths = List(section, nameof(InjectorOptions.AllowedHostPaths), defaults.AllowedHostPaths),
            AllowedSidecarImages = List(section, nameof(InjectorOptions.AllowedSidecarImages), defaults.AllowedSidecarImages),
        };
        Validate(options);
        return options;
    }

    public static void Validate(InjectorOptions options)
    {
        Require(options.SidecarImage.Length > 0, "Injector:SidecarImage", options.SidecarImage, "an image reference");
        Require(options.SidecarCommand.Count > 0, "Injector:SidecarCommand", "", "at least one element");
        Require(options.LegacyWaitCommand.Count > 0, "Injector:LegacyWaitCommand", "", "at least one element");
        Require(options.SidecarImagePullPolicy is "Always" or "IfNotPresent" or "Never", "Injector:SidecarImagePullPolicy", options.SidecarImagePullPolicy, "Always, IfNotPresent or Never");
        Require(DatasetModes.All.Contains(options.DefaultMode), "Injector:DefaultMode", options.DefaultMode, "auto, fuse, copy or s3");
        Require(Quantity.TryParseBytes(options.DefaultCacheSize, out var bytes) && bytes > 0, "Injector:DefaultCacheSize", options.DefaultCacheSize, "a positive quantity such as 10Gi");
        Require(options.DefaultCacheMedium is "disk" or "memory", "Injector:DefaultCacheMedium", options.DefaultCacheMedium, "disk or memory");
        Require(options.S3Port is > 0 and < 65536 && options.AdminPort is > 0 and < 65536 && options.S3Port != options.AdminPort,
            "Injector:S3Port/AdminPort", $"{options.S3Port}/{options.AdminPort}", "two different ports in 1-65535");
        foreach (var allowed in options.AllowedHostPaths)
        {
            Require(allowed.StartsWith('/') && !allowed.Split('/').Any(s => s is "." or ".."), "Injector:AllowedHostPaths", allowed, "absolute node directories without '.' or '..' segments");
        }

        foreach (var allowed in options.AllowedSidecarImages)
        {
            // a bare registry host ("registry.example.com") would allow every repository on it: say so with a '/'
            Require(SidecarOverrides.IsAllowListEntry(allowed), "Injector:AllowedSidecarImages", allowed,
                "image repositories (registry.example.com/fluid/sidecar) or repository prefixes ending in '/' (registry.example.com/fluid/), without tag, digest or spaces");
        }

        Require(options.AdminLocalPort is > 0 and < 65536 && options.AdminLocalPort != options.S3Port && options.AdminLocalPort != options.AdminPort,
            "Injector:AdminLocalPort", options.AdminLocalPort.ToString(CultureInfo.InvariantCulture), "a port in 1-65535 other than S3Port and AdminPort");
        Require(options.DefaultSharedCache == SharedCacheTier.None || options.SharedCacheTiers.ContainsKey(options.DefaultSharedCache),
            "Injector:DefaultSharedCache", options.DefaultSharedCache,
            $"'{SharedCacheTier.None}' or a key of Injector:SharedCacheTiers ({string.Join(", ", options.SharedCacheTiers.Keys.Order(StringComparer.Ordinal))})");
        foreach (var (name, tier) in options.SharedCacheTiers)
        {
            Require(tier.Engine is SharedCacheEngines.Redis or SharedCacheEngines.S3, $"Injector:SharedCacheTiers:{name}:Engine", tier.Engine, "redis or s3");
            Require(tier.Engine != SharedCacheEngines.Redis || tier.Endpoints.Count > 0, $"Injector:SharedCacheTiers:{name}:Endpoints", "", "at least one host:port");
            Require(tier.Engine != SharedCacheEngines.S3 || !string.IsNullOrEmpty(tier.Bucket), $"Injector:SharedCacheTiers:{name}:Bucket", tier.Bucket ?? "", "a bucket name");
            foreach (var (role, reference) in tier.SecretReferences())
            {
                var key = $"Injector:SharedCacheTiers:{name}:{char.ToUpperInvariant(role[0])}{role[1..]}SecretRef";
                Require(reference.Name.Length > 0 && reference.Key.Length > 0, key, $"{reference.Name}/{reference.Key}", "both Name and Key of a Secret");
            }
        }

        var settings = InjectionSettingsResolver.Resolve(
            new Dictionary<string, string> { [Annotations.SidecarResources] = options.DefaultSidecarResources }, null, options, out var error);
        Require(error is null && settings is not null, "Injector:DefaultSidecarResources", options.DefaultSidecarResources, "cpu=…,memory=…,limits.cpu=…,limits.memory=…");
    }

    private static void Require(bool condition, string setting, string value, string expected)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"invalid value '{value}' for {setting}: expected {expected}");
        }
    }

    private static List<string> List(IConfigurationSection section, string key, IReadOnlyList<string> fallback)
    {
        var children = section.GetSection(key).GetChildren()
            .OrderBy(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : int.MaxValue)
            .Select(c => c.Value ?? "")
            .ToList();
        return children.Count > 0 ? children : [.. fallback];
    }
}
