using System.Net;
using System.Security.Cryptography;
using Fluid.Serverless.Sidecar.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

public sealed class TransportBlockPoolTests
{
    [Fact]
    public void Rent_AnySizeUpToTheBlock_GivesAWholeBlock()
    {
        using var pool = new TransportBlockPool();
        using var small = pool.Rent(1);
        using var any = pool.Rent();
        using var whole = pool.Rent(TransportBlockPool.BlockSize);

        Assert.Equal(TransportBlockPool.BlockSize, small.Memory.Length);
        Assert.Equal(TransportBlockPool.BlockSize, any.Memory.Length);
        Assert.Equal(TransportBlockPool.BlockSize, whole.Memory.Length);
        Assert.Equal(TransportBlockPool.BlockSize, pool.MaxBufferSize);
    }

    [Fact]
    public void Rent_MoreThanABlock_IsRefusedNamingTheLimit()
    {
        using var pool = new TransportBlockPool();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(TransportBlockPool.BlockSize + 1));

        Assert.Equal("minBufferSize", error.ParamName);
        Assert.Contains($"at most {TransportBlockPool.BlockSize} bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_GivesTheBlockBack_AndTheNextRentReusesIt()
    {
        using var pool = new TransportBlockPool();
        var first = pool.Rent();
        first.Memory.Span[0] = 42;
        first.Dispose();

        using var second = pool.Rent();

        Assert.Equal(1, pool.Allocated);
        Assert.Equal(42, second.Memory.Span[0]);
    }

    [Fact]
    public void Dispose_Twice_PutsTheBlockInThePoolOnce()
    {
        using var pool = new TransportBlockPool();
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();

        using var a = pool.Rent();
        using var b = pool.Rent();

        // Had the block been pooled twice, both rents would share one array and write over each other.
        Assert.Equal(2, pool.Allocated);
        a.Memory.Span[0] = 1;
        b.Memory.Span[0] = 2;
        Assert.Equal(1, a.Memory.Span[0]);
    }

    [Fact]
    public void Return_BeyondTheRetainedBlocks_LetsTheRestGo()
    {
        using var pool = new TransportBlockPool();
        var rented = Enumerable.Range(0, TransportBlockPool.RetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        foreach (var block in rented)
        {
            block.Dispose();
        }

        var again = Enumerable.Range(0, TransportBlockPool.RetainedBlocks + 10).Select(_ => pool.Rent()).ToList();

        // The retained blocks come back; the ten beyond them were let go, so serving them again allocates ten more.
        Assert.Equal(TransportBlockPool.RetainedBlocks + 20, pool.Allocated);
        foreach (var block in again)
        {
            block.Dispose();
        }
    }

    [Fact]
    public void Rent_AfterThePoolIsDisposed_Throws()
    {
        var pool = new TransportBlockPool();
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }

    /// <summary>
    /// The sidecar's listeners receive into this pool and send from it: a GET through the S3 endpoint returns the
    /// file's bytes, and the pool Kestrel's transport took from the services allocated the blocks it went through.
    /// </summary>
    [Fact]
    public async Task Sidecar_ServesThroughTheTransportBlockPool()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var factory = Assert.IsType<TransportBlockPool.Factory>(sidecar.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        var (key, expected) = TestSidecar.Files.MaxBy(file => file.Value.Length);
        using var http = sidecar.CreateHttpClient().WithAnyKeySignature();

        using var get = await http.GetAsync(new Uri($"/{TestSidecar.Bucket}/{key}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await get.Content.ReadAsByteArrayAsync()));
        Assert.Contains(factory.Created, pool => pool.Allocated > 0);
    }
}
