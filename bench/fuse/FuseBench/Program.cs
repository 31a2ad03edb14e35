using Amazon.Runtime;
using Amazon.S3;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Volume;
using FuseBench;

// Usage: FuseBench <endpoint> <bucket> <mountPath>. Mounts the bucket (immutable dataset) and serves until SIGTERM.
// BENCH STAND-INS: the S3 source and the reader (an in-memory 8 MiB block cache with read-ahead) are minimal until
// the sidecar's ObjectReader lands; warm reads of the immutable dataset come from the kernel page cache (FOPEN_KEEP_CACHE).
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: FuseBench <endpoint> <bucket> <mountPath>");
    return 2;
}
var s3 = new AmazonS3Client(new BasicAWSCredentials("test", "test"), new AmazonS3Config { ServiceURL = args[0], ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
var source = new BenchS3Source(s3, args[1]);
var dataset = new Dataset(new DatasetConfig { Name = args[1], Source = $"s3://{args[1]}/", MountPath = args[2], Immutable = true }, source);

var builder = Host.CreateApplicationBuilder();
builder.Services.AddSingleton<IDatasetRegistry>(new FixedRegistry(dataset));
builder.Services.AddSingleton<IObjectReader>(new BlockReader());
builder.Services.AddVolumes(new VolumeOptions { Mode = DatasetModes.Fuse });
using var host = builder.Build();
await host.RunAsync();
return 0;
