using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public class PrefetchEntryTests
{
    [Theory]
    [InlineData("train/", nameof(PrefetchEntryKind.Prefix), "train/")]
    [InlineData("", nameof(PrefetchEntryKind.Prefix), "")]
    [InlineData("/", nameof(PrefetchEntryKind.Prefix), "")]
    [InlineData("/train/a.bin", nameof(PrefetchEntryKind.KeyOrDirectory), "train/a.bin")]
    [InlineData("train", nameof(PrefetchEntryKind.KeyOrDirectory), "train")]
    [InlineData("train/**/*.jpg", nameof(PrefetchEntryKind.Glob), "train/**/*.jpg")]
    [InlineData("@lists/epoch1.txt", nameof(PrefetchEntryKind.Manifest), "lists/epoch1.txt")]
    [InlineData(" @/lists/epoch1.txt ", nameof(PrefetchEntryKind.Manifest), "lists/epoch1.txt")]
    public void TryParse_ValidEntry_GivesKindAndPath(string text, string kind, string path)
    {
        Assert.True(PrefetchEntry.TryParse(text, out var entry, out var error), error);
        Assert.Equal(kind, entry.Kind.ToString());
        Assert.Equal(path, entry.Path);
    }

    [Theory]
    [InlineData("a/../b", "'..'")]
    [InlineData("./a", "'.'")]
    [InlineData("a\\b", "backslashes")]
    [InlineData("@", "manifest")]
    [InlineData("@lists/", "manifest")]
    [InlineData("@lists/*.txt", "manifest")]
    public void TryParse_InvalidEntry_ErrorNamesEntryAndRule(string text, string expectedWords)
    {
        Assert.False(PrefetchEntry.TryParse(text, out _, out var error));
        Assert.Contains($"'{text}'", error, StringComparison.Ordinal);
        Assert.Contains(expectedWords, error, StringComparison.Ordinal);
    }
}
