using System.Net;
using System.Net.Sockets;
using Amazon.S3;
using Fluid.Serverless.Sidecar.Resilience;
using Fluid.Serverless.Sidecar.Sources;
using Polly.Timeout;

namespace Fluid.Serverless.Sidecar.Tests.Resilience;

public sealed class SourceResilienceOptionsTests
{
    [Fact]
    public void From_NoOptions_VisibleDefaults()
    {
        var options = SourceResilienceOptions.From(new SourceOptions("d", new Dictionary<string, string>()));

        Assert.Equal(new SourceResilienceOptions(), options);
        Assert.Equal(4, options.Retries);
        Assert.True(options.AttemptTimeout < options.Timeout);
    }

    [Theory]
    [InlineData("retries", "abc", "an integer from 0 to 20")]
    [InlineData("retries", "-1", "an integer from 0 to 20")]
    [InlineData("attemptTimeoutSeconds", "0", "a number from 0.01")]
    [InlineData("breakerFailureRatio", "2", "a number from 0.01 to 1")]
    public void From_BadValue_ThrowsNamingDatasetOptionAndRange(string name, string value, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => SourceResilienceOptions.From(new SourceOptions("imagenet", new Dictionary<string, string> { [name] = value })));

        Assert.Contains($"dataset 'imagenet': option '{name}' has invalid value '{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_AttemptLongerThanOverall_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => SourceResilienceOptions.From(new SourceOptions("d", new Dictionary<string, string>
        {
            ["attemptTimeoutSeconds"] = "30",
            ["timeoutSeconds"] = "10",
        })));

        Assert.Contains("'attemptTimeoutSeconds'", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<Exception, bool> Failures => new()
    {
        { new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)), true },
        { new HttpRequestException("bad gateway", null, HttpStatusCode.BadGateway), true },
        { new HttpRequestException("throttled", null, HttpStatusCode.TooManyRequests), true },
        { new HttpRequestException("forbidden", null, HttpStatusCode.Forbidden), false },
        { new IOException("connection reset"), true },
        { new InvalidDataException("bad listing"), false },
        { new TimeoutRejectedException(), true },
        { new AmazonS3Exception("slow down") { StatusCode = HttpStatusCode.ServiceUnavailable, ErrorCode = "SlowDown" }, true },
        { new AmazonS3Exception("denied") { StatusCode = HttpStatusCode.Forbidden, ErrorCode = "AccessDenied" }, false },
        { new RemoteObjectChangedException("k"), false },
        { new ArgumentException("bad"), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void IsTransient_ClassifiesFailure(Exception exception, bool transient) =>
        Assert.Equal(transient, TransientFailures.IsTransient(exception));
}
