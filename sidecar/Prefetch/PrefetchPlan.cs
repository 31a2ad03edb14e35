using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Prefetch;

/// <summary>
/// One unit of prefetch work: an object to warm. <see cref="Object"/> is known when it came from a listing and null
/// when it came from a manifest line (the worker HEADs it, so a 10,000-line manifest costs no up-front HEAD storm).
/// <see cref="Error"/> is set for an entry that resolved to nothing (reported by name, never silently skipped).
/// </summary>
internal readonly record struct PrefetchItem(string Key, RemoteObject? Object, string? Error);

/// <summary>
/// Expands prefetch entries into an ordered stream of objects: entries in the order given, listings in key order,
/// manifests in line order. It streams page by page (nothing holds the full listing); the only state that grows
/// with the dataset is the set of keys already emitted, kept only when entries could overlap (more than one entry,
/// or a manifest, which may repeat a key).
/// </summary>
internal sealed class PrefetchPlan(IReadOnlyList<PrefetchEntry> entries)
{
    /// <summary>S3's own page size: one round trip per thousand keys.</summary>
    internal const int ListPageSize = 1000;

    /// <summary>S3 keys are at most 1,024 bytes; a longer manifest line is not a key.</summary>
    internal const int MaxKeyBytes = 1024;

    private const int ManifestChunkBytes = 64 * 1024;

    public IReadOnlyList<PrefetchEntry> Entries { get; } = entries;

    /// <summary>The entries' identity, as a prefetch job's metrics carry it (<see cref="Contracts.PrefetchPlans"/>).</summary>
    public string Id { get; } = Contracts.PrefetchPlans.IdOf(entries.Select(e => e.Text));

    public async IAsyncEnumerable<PrefetchItem> EnumerateAsync(IObjectSource source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var needsDeduplication = Entries.Count > 1 || (Entries.Count == 1 && Entries[0].Kind == PrefetchEntryKind.Manifest);
        HashSet<string>? emitted = needsDeduplication ? new HashSet<string>(StringComparer.Ordinal) : null;

        foreach (var entry in Entries)
        {
            var produced = 0;
            await foreach (var item in ExpandAsync(entry, source, cancellationToken))
            {
                produced++;
                if (item.Error is null && emitted is not null && !emitted.Add(item.Key))
                {
                    continue;
                }

                yield return item;
            }

            if (produced == 0)
            {
                yield return new PrefetchItem(entry.Text, null, entry.Kind switch
                {
                    PrefetchEntryKind.Glob => $"glob '{entry.Text}' matched no object",
                    PrefetchEntryKind.Manifest => $"manifest '{entry.Path}' lists no key",
                    _ => $"no object or prefix '{entry.Text}' in the dataset",
                });
            }
        }
    }

    private static IAsyncEnumerable<PrefetchItem> ExpandAsync(PrefetchEntry entry, IObjectSource source, CancellationToken cancellationToken) =>
        entry.Kind switch
        {
            PrefetchEntryKind.Prefix => ListAsync(source, entry.Path, null, cancellationToken),
            PrefetchEntryKind.Glob => ListAsync(source, entry.Glob!.LiteralPrefix, entry.Glob, cancellationToken),
            PrefetchEntryKind.Manifest => ReadManifestAsync(source, entry, cancellationToken),
            _ => KeyOrDirectoryAsync(source, entry.Path, cancellationToken),
        };

    private static async IAsyncEnumerable<PrefetchItem> KeyOrDirectoryAsync(IObjectSource source, string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var single = await source.HeadAsync(path, cancellationToken);
        if (single is not null)
        {
            yield return new PrefetchItem(single.Key, single, null);
            yield break;
        }

        await foreach (var item in ListAsync(source, path + "/", null, cancellationToken))
        {
            yield return item;
        }
    }

    private static async IAsyncEnumerable<PrefetchItem> ListAsync(IObjectSource source, string prefix, GlobPattern? glob, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? startAfter = null;
        do
        {
            var page = await source.ListAsync(new ListRequest(prefix, null, startAfter, ListPageSize), cancellationToken);
            foreach (var obj in page.Objects)
            {
                // A key ending in "/" is a directory marker (console-created folders), not data.
                if (obj.Key.EndsWith('/') || (glob is not null && !glob.IsMatch(obj.Key)))
                {
                    continue;
                }

                yield return new PrefetchItem(obj.Key, obj, null);
            }

            startAfter = page.NextStartAfter;
        }
        while (startAfter is not null);
    }

    /// <summary>
    /// Streams the manifest in chunks: a key per line (UTF-8, CRLF or LF), blank lines and lines starting with '#'
    /// ignored, a leading '/' tolerated. Only one chunk and one partial line are held at a time.
    /// </summary>
    private static async IAsyncEnumerable<PrefetchItem> ReadManifestAsync(IObjectSource source, PrefetchEntry entry, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var manifest = await source.HeadAsync(entry.Path, cancellationToken);
        if (manifest is null)
        {
            yield return new PrefetchItem(entry.Text, null, $"manifest '{entry.Path}' does not exist in the dataset");
            yield break;
        }

        var chunk = ArrayPool<byte>.Shared.Rent(ManifestChunkBytes);
        var line = new ArrayBufferWriter<byte>(256);
        var lineNumber = 0;
        try
        {
            for (long offset = 0; offset < manifest.Size;)
            {
                var length = (int)Math.Min(ManifestChunkBytes, manifest.Size - offset);
                await source.ReadAsync(manifest, offset, chunk.AsMemory(0, length), cancellationToken);
                offset += length;

                var remaining = chunk.AsMemory(0, length);
                while (!remaining.IsEmpty)
                {
                    var newline = remaining.Span.IndexOf((byte)'\n');
                    var part = newline < 0 ? remaining : remaining[..newline];
                    // Store at most a little more than a key: a longer line is reported as too long, not buffered.
                    var room = Math.Max(0, MaxKeyBytes + 3 - line.WrittenCount);
                    line.Write(part.Span[..Math.Min(room, part.Length)]);

                    if (newline < 0)
                    {
                        break;
                    }

                    remaining = remaining[(newline + 1)..];
                    lineNumber++;
                    if (ParseManifestLine(line.WrittenSpan, entry.Path, lineNumber) is { } item)
                    {
                        yield return item;
                    }

                    line.ResetWrittenCount();
                }
            }

            if (line.WrittenCount > 0)
            {
                lineNumber++;
                if (ParseManifestLine(line.WrittenSpan, entry.Path, lineNumber) is { } last)
                {
                    yield return last;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private static PrefetchItem? ParseManifestLine(ReadOnlySpan<byte> raw, string manifestKey, int lineNumber)
    {
        var text = raw.TrimEnd("\r"u8).Trim(" \t"u8);
        if (text.IsEmpty || text[0] == (byte)'#')
        {
            return null;
        }

        var key = Encoding.UTF8.GetString(text).TrimStart('/');
        if (text.Length > MaxKeyBytes || key.Length == 0)
        {
            return new PrefetchItem($"{manifestKey}:{lineNumber}", null, $"manifest '{manifestKey}' line {lineNumber} is not a key (1 to {MaxKeyBytes} bytes expected)");
        }

        return new PrefetchItem(key, null, null);
    }
}
