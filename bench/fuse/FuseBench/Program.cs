using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Volume;
using FuseBench;

// Usage: FuseBench <endpoint> <bucket> <mountPath> <cacheDirectory>
// Mounts the bucket as an immutable dataset through the sidecar's real parts — S3 source (ISourceFactory, with its
// resilience pipeline), DiskBlockCache + ObjectReader (AddBlockCache) and the Volume component (AddVolumes) — and
// serves until SIGTERM. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: FuseBench <endpoint> <bucket> <mountPath> <cacheDirectory>");
    return 2;
}
var dataset = new DatasetConfig
{
    Name = args[1],
    Source = $"s3://{args[1]}/",
    Options = new Dictionary<string, string> { ["endpoint"] = args[0], ["region"] = "us-east-1", ["pathStyle"] = "true" },
    SecretOptions = new Dictionary<string, string> { ["accessKeyId"] = "AWS_ACCESS_KEY_ID", ["secretAccessKey"] = "AWS_SECRET_ACCESS_KEY" },
    MountPath = args[2],
    Immutable = true,
};

var builder = Host.CreateApplicationBuilder();
builder.Services.AddObjectSources();
// FLUID_SPAN_BYTES: cache.fetchSpanBytes (the largest range one GET fetches); unset = the product default.
var spanBytes = long.TryParse(Environment.GetEnvironmentVariable("FLUID_SPAN_BYTES"), System.Globalization.CultureInfo.InvariantCulture, out var span) ? span : (long?)null;
builder.Services.AddBlockCache(new CacheConfig { Directory = args[3], MinFreeBytes = 0, FetchSpanBytes = spanBytes });
builder.Services.AddSingleton<IDatasetRegistry>(provider =>
    new FixedRegistry(new Dataset(dataset, provider.GetRequiredService<ISourceFactory>().Create(dataset))));
builder.Services.AddVolumes(new VolumeOptions { Mode = DatasetModes.Fuse });
using var host = builder.Build();
await host.RunAsync();
return 0;
