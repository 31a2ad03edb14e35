using System.Security.Cryptography;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Fluid.Serverless.Sidecar.Tests.Cache;

public sealed class CacheServiceCollectionExtensionsTests
{
    [Fact]
    public async Task AddBlockCache_HostStarted_IndexLoadsAndReadsGoThroughTheSharedCache()
    {
        using var dir = new TempDirectory();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddBlockCache(new CacheConfig { Directory = dir.Path, BlockSizeBytes = 64 * 1024, MinFreeBytes = 0 });
        using var host = builder.Build();
        await host.StartAsync();

        var cache = host.Services.GetRequiredService<DiskBlockCache>();
        await cache.IndexLoadCompletion;
        var source = new CountingObjectSource();
        var bytes = RandomNumberGenerator.GetBytes(200_000);
        var obj = source.Put("k", bytes);
        var dataset = new Dataset(new DatasetConfig { Name = "ds" }, source);
        using var output = new MemoryStream();
        await host.Services.GetRequiredService<IObjectReader>().CopyToAsync(dataset, obj, 0, obj.Size, output, default);

        Assert.True(cache.GetStatistics().IndexLoaded);
        Assert.Same(cache, host.Services.GetRequiredService<IBlockCache>());
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(output.ToArray()));
        Assert.Equal(4, cache.GetStatistics().Blocks);
        await host.StopAsync();
    }

    [Fact]
    public void AddBlockCache_BlockSizeZero_ErrorNamesTheField()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddBlockCache(new CacheConfig { BlockSizeBytes = 0 }));
        Assert.Contains("cache.blockSizeBytes", error.Message, StringComparison.Ordinal);
    }
}
