using System.Text;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Tests.Sources;

/// <summary>
/// The pager against a naive model of S3 listing semantics (filter by prefix, roll up at the delimiter, distinct,
/// sort by UTF-8 bytes, page), over random key sets that include the awkward characters: '-' and '.' sorting
/// before '/', non-ASCII, and characters above U+FFFF whose UTF-16 order differs from UTF-8 order.
/// </summary>
public sealed class ListingPagerTests
{
    private static readonly string[] Alphabet = ["a", "b", "-", ".", "/", "/", "é", "\uE000", "\U0001F600", "0"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Pages_RandomKeys_EqualNaiveModel(int seed)
    {
        var random = new Random(seed);
        var keys = Enumerable.Range(0, 60).Select(_ => RandomKey(random)).Where(ObjectKeys.IsSafeRelativeKey).Distinct().ToList();
        keys.Sort(CompareUtf8);
        foreach (var prefix in new[] { "", "a", "a/", "b-", "é/" })
        {
            foreach (var delimiter in new[] { null, "/", "-" })
            {
                foreach (var maxKeys in new[] { 1, 2, 7, 1000 })
                {
                    var expected = Model(keys, prefix, delimiter);
                    var actual = PageThrough(keys, prefix, delimiter, maxKeys);
                    Assert.Equal(expected, actual);
                }
            }
        }
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task LocalSource_RandomTree_EqualsNaiveModel(int seed)
    {
        // The local source prunes its walk (skips directories before StartAfter, rolls whole directories up); the
        // model does none of that, so any pruning mistake shows as a difference.
        using var directory = new TempDirectory();
        var random = new Random(seed);
        var keys = new List<string>();
        foreach (var key in Enumerable.Range(0, 80).Select(_ => RandomKey(random)).Where(ObjectKeys.IsSafeRelativeKey).Distinct())
        {
            try
            {
                directory.Write(key, "x");
                keys.Add(key);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file where a directory is needed (or the reverse): S3 allows it, a file system does not.
            }
        }

        keys = keys.Where(k => File.Exists(Path.Join(directory.Path, k))).ToList();
        keys.Sort(CompareUtf8);
        var source = new LocalObjectSource(directory.Path);
        foreach (var prefix in new[] { "", "a", "a/", "é/", "b/a" })
        {
            foreach (var delimiter in new[] { null, "/", "-" })
            {
                foreach (var maxKeys in new[] { 1, 3, 1000 })
                {
                    var (listedKeys, prefixes, _) = await SourceAssertions.ListAllAsync(source, prefix, delimiter, maxKeys);
                    var actual = listedKeys.Concat(prefixes.Select(p => p + "|cp")).ToList();
                    actual.Sort((a, b) => CompareUtf8(a.Replace("|cp", "", StringComparison.Ordinal), b.Replace("|cp", "", StringComparison.Ordinal)));
                    Assert.Equal(Model(keys, prefix, delimiter), actual);
                }
            }
        }
    }

    [Fact]
    public void Compare_RandomStrings_EqualsUtf8ByteOrder()
    {
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var a = RandomKey(random);
            var b = RandomKey(random);
            Assert.Equal(Math.Sign(CompareUtf8(a, b)), Math.Sign(Utf8KeyComparer.Instance.Compare(a, b)));
        }
    }

    private static string RandomKey(Random random)
    {
        var builder = new StringBuilder();
        var length = random.Next(1, 7);
        for (var i = 0; i < length; i++)
        {
            builder.Append(Alphabet[random.Next(Alphabet.Length)]);
        }

        return builder.ToString();
    }

    private static int CompareUtf8(string a, string b) => Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>Every entry (key, or common prefix marked with a trailing "|cp") in order.</summary>
    private static List<string> Model(List<string> sortedKeys, string prefix, string? delimiter)
    {
        var entries = new List<(string Item, bool IsPrefix)>();
        foreach (var key in sortedKeys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var at = delimiter is null ? -1 : key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
            var entry = at < 0 ? (key, false) : (key[..(at + delimiter!.Length)], true);
            if (!entries.Contains(entry))
            {
                entries.Add(entry);
            }
        }

        return entries.OrderBy(e => e.Item, Comparer<string>.Create(CompareUtf8)).Select(e => e.IsPrefix ? e.Item + "|cp" : e.Item).ToList();
    }

    private static List<string> PageThrough(List<string> sortedKeys, string prefix, string? delimiter, int maxKeys)
    {
        var result = new List<string>();
        string? startAfter = null;
        for (var pages = 0; pages < 1000; pages++)
        {
            var pager = new ListingPager(new ListRequest(prefix, delimiter, startAfter, maxKeys));
            foreach (var key in sortedKeys)
            {
                pager.Add(new RemoteObject(key, 1, "\"e\"", DateTimeOffset.UnixEpoch));
            }

            var page = pager.ToPage();
            Assert.True(page.Objects.Count + page.CommonPrefixes.Count <= maxKeys);
            var entries = page.Objects.Select(o => o.Key).Concat(page.CommonPrefixes.Select(p => p + "|cp")).ToList();
            entries.Sort((a, b) => CompareUtf8(a.Replace("|cp", "", StringComparison.Ordinal), b.Replace("|cp", "", StringComparison.Ordinal)));
            result.AddRange(entries);
            if (page.NextStartAfter is null)
            {
                return result;
            }

            startAfter = page.NextStartAfter;
        }

        throw new InvalidOperationException("listing did not terminate");
    }
}
