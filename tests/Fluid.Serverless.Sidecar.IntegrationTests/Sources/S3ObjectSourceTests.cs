using Amazon.S3.Model;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using static Fluid.Serverless.Testing.SourceAssertions;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>The S3 source against two real S3-compatible servers (moto and s3rver): the same checks on both.</summary>
public abstract class S3ObjectSourceTests(S3RemoteFixture remote)
{
    private const string SecretVariable = "TEST_S3_SECRET";

    /// <summary>
    /// False for s3rver: it pages a flat listing in its directory-walk order and resumes by key comparison, so a key
    /// such as "photos-old.txt" (sorting before "photos/…") is lost across pages. No source can repair that remotely;
    /// moto is the reference for paged flat listings.
    /// </summary>
    protected virtual bool PagesFlatListingsInKeyOrder => true;

    private protected IObjectSource CreateSource(string bucket, string prefix = "") =>
        new SourceFactory(name => name == SecretVariable ? remote.SecretKey : null).Create(new DatasetConfig
        {
            Name = "test",
            Source = $"s3://{bucket}/{prefix}",
            Options = new Dictionary<string, string> { ["endpoint"] = remote.Endpoint, ["aws.accessKeyId"] = remote.AccessKey },
            SecretOptions = new Dictionary<string, string> { ["aws.secretKey"] = SecretVariable },
        });

    [Fact]
    public async Task ReadAsync_ChunkedLargeObject_BytesEqual()
    {
        var bucket = await remote.CreateBucketAsync("read");
        var content = RandomBytes(6 * 1024 * 1024 + 123, seed: 7);
        await remote.PutAsync(bucket, "models/weights v1+%é.bin", content);
        await using var source = CreateSource(bucket);

        var obj = await source.HeadAsync("models/weights v1+%é.bin", CancellationToken.None);

        Assert.NotNull(obj);
        Assert.Equal(content.Length, obj.Size);
        Assert.StartsWith("\"", obj.ETag, StringComparison.Ordinal);
        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(source, obj, chunk: 4 * 1024 * 1024)));
    }

    [Fact]
    public async Task HeadAsync_MissingKey_ReturnsNull()
    {
        var bucket = await remote.CreateBucketAsync("head");
        await using var source = CreateSource(bucket);

        Assert.Null(await source.HeadAsync("nope.txt", CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_ObjectOverwritten_ThrowsRemoteObjectChanged()
    {
        var bucket = await remote.CreateBucketAsync("changed");
        await remote.PutAsync(bucket, "data.bin", RandomBytes(1000, seed: 1));
        await using var source = CreateSource(bucket);
        var old = await source.HeadAsync("data.bin", CancellationToken.None);
        await remote.PutAsync(bucket, "data.bin", RandomBytes(1000, seed: 2));

        await Assert.ThrowsAsync<RemoteObjectChangedException>(() => source.ReadAsync(old!, 100, new byte[100], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task ReadAsync_ObjectDeleted_ThrowsRemoteObjectNotFound()
    {
        var bucket = await remote.CreateBucketAsync("deleted");
        await remote.PutAsync(bucket, "data.bin", RandomBytes(100, seed: 1));
        await using var source = CreateSource(bucket);
        var old = await source.HeadAsync("data.bin", CancellationToken.None);
        await remote.Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = "data.bin" });

        await Assert.ThrowsAsync<RemoteObjectNotFoundException>(() => source.ReadAsync(old!, 0, new byte[10], CancellationToken.None).AsTask());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1000)]
    public async Task ListAsync_PagedWithDelimiterUnderRootPrefix_SeesOnlyTheDataset(int maxKeys)
    {
        var bucket = await remote.CreateBucketAsync("list");
        foreach (var key in new[] { "data/top.txt", "data/photos/2024/a.jpg", "data/photos/b.jpg", "data/photos-old.txt", "data/videos/v.mp4", "data/z z.txt", "other/x.txt", "data-sibling.txt" })
        {
            await remote.PutAsync(bucket, key, [1, 2, 3]);
        }

        await using var source = CreateSource(bucket, "data");

        var root = await ListAllAsync(source, "", "/", maxKeys);
        var photos = await ListAllAsync(source, "photos/", "/", maxKeys);
        var flat = await ListAllAsync(source, "", null, PagesFlatListingsInKeyOrder ? maxKeys : 1000);

        Assert.Equal(["photos-old.txt", "top.txt", "z z.txt"], root.Keys);
        Assert.Equal(["photos/", "videos/"], root.Prefixes);
        Assert.Equal(["photos/b.jpg"], photos.Keys);
        Assert.Equal(["photos/2024/"], photos.Prefixes);
        Assert.Equal(["photos-old.txt", "photos/2024/a.jpg", "photos/b.jpg", "top.txt", "videos/v.mp4", "z z.txt"], flat.Keys);
    }

    [Fact]
    public async Task ListAsync_StartAfterCommonPrefixWithoutToken_SkipsThatPrefix()
    {
        var bucket = await remote.CreateBucketAsync("startafter");
        foreach (var key in new[] { "a/1", "a/2", "b/1", "c.txt" })
        {
            await remote.PutAsync(bucket, key, [1]);
        }

        await using var source = CreateSource(bucket);
        var page = await source.ListAsync(new ListRequest("", "/", "a/", 1000), CancellationToken.None);

        Assert.Equal(["b/"], page.CommonPrefixes);
        Assert.Equal(["c.txt"], page.Objects.Select(o => o.Key));
        Assert.False(page.IsTruncated);
    }

    [Fact]
    public void Create_OnlyAccessKeyWithoutSecret_ThrowsNamingTheMissingOption()
    {
        var error = Assert.Throws<ArgumentException>(() => new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "half",
            Source = "s3://bucket/",
            Options = new Dictionary<string, string> { ["endpoint"] = remote.Endpoint, ["accessKeyId"] = "x" },
        }));

        Assert.Contains("dataset 'half': option 'secretAccessKey' is missing", error.Message, StringComparison.Ordinal);
    }
}

[Collection(MotoCollection.Name)]
public sealed class S3ObjectSourceMotoTests(MotoServerFixture moto) : S3ObjectSourceTests(moto);

[Collection(S3rverCollection.Name)]
public sealed class S3ObjectSourceS3rverTests(S3rverFixture s3rver) : S3ObjectSourceTests(s3rver)
{
    protected override bool PagesFlatListingsInKeyOrder => false;

    [Fact]
    public async Task HeadAsync_UnknownAccessKey_FailsInsteadOfReturningNull()
    {
        var bucket = await s3rver.CreateBucketAsync("auth");
        await s3rver.PutAsync(bucket, "x", [1]);
        await using var source = new SourceFactory(_ => null).Create(new DatasetConfig
        {
            Name = "auth",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string> { ["endpoint"] = s3rver.Endpoint, ["accessKeyId"] = "NOT-S3RVER", ["secretAccessKey"] = "S3RVER" },
        });

        // s3rver checks the access key id (not SigV4 signatures): an unknown key is an error, never "object missing".
        await Assert.ThrowsAnyAsync<Exception>(() => source.HeadAsync("x", CancellationToken.None).AsTask());
    }
}
