using Fluid.Serverless.Sidecar.Prefetch;

namespace Fluid.Serverless.Sidecar.Tests.Prefetch;

public class GlobPatternTests
{
    [Theory]
    [InlineData("train/**/*.jpg", "train/a.jpg", true)]
    [InlineData("train/**/*.jpg", "train/x/y/z/a.jpg", true)]
    [InlineData("train/**/*.jpg", "train/x/a.png", false)]
    [InlineData("train/**/*.jpg", "val/a.jpg", false)]
    [InlineData("train/**/*.jpg", "training/a.jpg", false)]
    [InlineData("*.txt", "a.txt", true)]
    [InlineData("*.txt", "dir/a.txt", false)]
    [InlineData("**/*.txt", "a.txt", true)]
    [InlineData("**/*.txt", "d/e/a.txt", true)]
    [InlineData("**", "any/thing/at/all", true)]
    [InlineData("data/part-?.bin", "data/part-7.bin", true)]
    [InlineData("data/part-?.bin", "data/part-17.bin", false)]
    [InlineData("data/part-?.bin", "data/part-/.bin", false)]
    [InlineData("a/**/b/*.c", "a/b/x.c", true)]
    [InlineData("a/**/b/*.c", "a/q/b/r/b/x.c", true)]
    [InlineData("a/**/b/*.c", "a/q/b/r/x.c", false)]
    [InlineData("a/**", "a/b/c", true)]
    [InlineData("a/**", "a", false)]
    [InlineData("img*/*", "img01/x", true)]
    [InlineData("img*/*", "img01/x/y", false)]
    [InlineData("*a*b*", "xxaybzz", true)]
    [InlineData("*a*b*", "xxbyazz", false)]
    public void IsMatch_KeyAgainstPattern_FollowsGlobRules(string pattern, string key, bool expected) =>
        Assert.Equal(expected, GlobPattern.Compile(pattern).IsMatch(key));

    [Theory]
    [InlineData("train/**/*.jpg", "train/")]
    [InlineData("train/img-*.jpg", "train/img-")]
    [InlineData("*.txt", "")]
    [InlineData("a/b?/c", "a/b")]
    public void LiteralPrefix_Pattern_IsTextBeforeFirstWildcard(string pattern, string prefix) =>
        Assert.Equal(prefix, GlobPattern.Compile(pattern).LiteralPrefix);

    [Fact]
    public void IsMatch_ManyStarsAgainstLongKey_FinishesWithoutBacktrackingBlowUp()
    {
        var key = string.Join('/', Enumerable.Repeat(new string('a', 200), 20)) + "/b";
        Assert.False(GlobPattern.Compile("**/*a*a*a*a*a*c").IsMatch(key));
        Assert.True(GlobPattern.Compile("**/**/**/b").IsMatch(key));
    }
}
