using System.Text;
using System.Text.Json;
using Fluid.Serverless.Injector.Json;

namespace Fluid.Serverless.Injector.Tests.Json;

public sealed class PooledBufferWriterTests
{
    [Fact]
    public void JsonLongerThanTheFirstBuffer_IsKeptWhole()
    {
        // grows past the first rented array twice: every byte written before a growth survives it
        var values = Enumerable.Range(0, 2000).Select(i => $"value-{i:D5}").ToArray();
        using var pooled = new PooledBufferWriter(1024);
        using (var writer = new Utf8JsonWriter(pooled))
        {
            JsonSerializer.Serialize(writer, values);
        }

        Assert.True(pooled.WrittenSpan.Length > 4 * 1024);
        Assert.Equal(JsonSerializer.Serialize(values), Encoding.UTF8.GetString(pooled.WrittenSpan));
    }

    [Fact]
    public void AfterDispose_TheBufferIsGone()
    {
        var pooled = new PooledBufferWriter(16);
        pooled.GetSpan(4)[..4].Fill((byte)'x');
        pooled.Advance(4);
        pooled.Dispose();
        pooled.Dispose(); // twice is harmless: the array went back to the pool once

        Assert.Throws<ObjectDisposedException>(() => pooled.GetSpan());
        Assert.Throws<ArgumentOutOfRangeException>(() => new PooledBufferWriter(16).Advance(17));
    }
}
