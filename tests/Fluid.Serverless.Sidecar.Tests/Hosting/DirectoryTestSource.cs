using System.Security.Cryptography;
using System.Text;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Hosting;

/// <summary>
/// Test stand-in for the real local source (the sources helper's LocalObjectSource lands separately): a directory
/// read with no guarding of its own, so the traversal tests prove that the S3 layer never hands it an escaping key.
/// "broken://" sources fail every call like a remote that is down.
/// </summary>
internal sealed class DirectoryTestSource(string root) : IObjectSource
{
    public string Identity => "test-dir://" + root;

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        var path = Path.Combine(root, key);
        if (!File.Exists(path))
        {
            return ValueTask.FromResult<RemoteObject?>(null);
        }

        return ValueTask.FromResult<RemoteObject?>(Describe(key, new FileInfo(path)));
    }

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        var keys = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Where(key => key.StartsWith(request.Prefix, StringComparison.Ordinal))
            .Order(Utf8Order.Instance)
            .ToList();

        var objects = new List<RemoteObject>();
        var prefixes = new List<string>();
        string? last = null;
        foreach (var key in keys)
        {
            var entry = key;
            var isPrefix = false;
            if (request.Delimiter is { } delimiter)
            {
                var at = key.IndexOf(delimiter, request.Prefix.Length, StringComparison.Ordinal);
                if (at >= 0)
                {
                    entry = key[..(at + delimiter.Length)];
                    isPrefix = true;
                }
            }

            if (request.StartAfter is not null && Utf8Order.Instance.Compare(entry, request.StartAfter) <= 0)
            {
                continue;
            }

            if (isPrefix && prefixes.Count > 0 && prefixes[^1] == entry)
            {
                continue;
            }

            if (objects.Count + prefixes.Count == request.MaxKeys)
            {
                return ValueTask.FromResult(new ListPage(objects, prefixes, last));
            }

            if (isPrefix)
            {
                prefixes.Add(entry);
            }
            else
            {
                objects.Add(Describe(key, new FileInfo(Path.Combine(root, key))));
            }

            last = entry;
        }

        return ValueTask.FromResult(new ListPage(objects, prefixes, null));
    }

    public async ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(Path.Combine(root, obj.Key));
        file.Position = offset;
        await file.ReadExactlyAsync(destination, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static RemoteObject Describe(string key, FileInfo file)
    {
        var etag = "\"" + Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(file.FullName))) + "\"";
        return new RemoteObject(key, file.Length, etag, new DateTimeOffset(file.LastWriteTimeUtc), key.EndsWith(".txt", StringComparison.Ordinal) ? "text/plain" : null);
    }
}

/// <summary>A remote that is down: every call fails as the real sources do after their retries.</summary>
internal sealed class BrokenTestSource : IObjectSource
{
    public string Identity => "broken://";

    public ValueTask<RemoteObject?> HeadAsync(string key, CancellationToken cancellationToken) =>
        throw new SourceUnavailableException("connection refused (test remote is down)");

    public ValueTask<ListPage> ListAsync(ListRequest request, CancellationToken cancellationToken) =>
        throw new SourceUnavailableException("connection refused (test remote is down)");

    public ValueTask ReadAsync(RemoteObject obj, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        throw new SourceUnavailableException("connection refused (test remote is down)");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>local:///path → <see cref="DirectoryTestSource"/>, broken:// → <see cref="BrokenTestSource"/>.</summary>
internal sealed class TestSourceFactory : ISourceFactory
{
    public IObjectSource Create(DatasetConfig dataset) => dataset.Source switch
    {
        var s when s.StartsWith("local://", StringComparison.Ordinal) => new DirectoryTestSource(s["local://".Length..]),
        var s when s.StartsWith("broken://", StringComparison.Ordinal) => new BrokenTestSource(),
        _ => throw new ArgumentException($"source: '{dataset.Source}' is not supported by the test factory"),
    };
}

/// <summary>UTF-8 binary order, the order S3 lists keys in.</summary>
internal sealed class Utf8Order : IComparer<string>
{
    public static readonly Utf8Order Instance = new();

    public int Compare(string? x, string? y) =>
        Encoding.UTF8.GetBytes(x ?? "").AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y ?? ""));
}
