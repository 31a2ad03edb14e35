using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Resilience;

/// <summary>
/// How hard a source tries before it reports the remote unavailable. Every value can be set per dataset with the
/// option of the same name (seconds as decimals). The defaults answer a client before its own SDK gives up (boto3
/// and the AWS SDKs wait about 60 s for a response), while riding out the short 503/SlowDown bursts and connection
/// resets S3-compatible stores produce under load.
/// </summary>
internal sealed record SourceResilienceOptions
{
    /// <summary>Retries after the first attempt (so up to 5 attempts).</summary>
    public int Retries { get; init; } = 4;

    /// <summary>First backoff; doubles per retry, with jitter so many sidecars do not retry in lockstep.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>One request, body included (a 4 MiB block at 1 MB/s takes 4 s; a stuck connection fails here).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Everything, retries and backoff included: under the ~60 s clients wait for an answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>Share of failed calls within <see cref="BreakerSampling"/> that opens the circuit.</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    /// <summary>
    /// Attempts needed in a sampling window before the ratio counts. Every attempt counts (the breaker sits inside the
    /// retries), so one read retried through a short 503 burst adds several failures: 20 keeps a burst that retries
    /// absorb from opening the circuit, while a remote that is really down opens it within a couple of seconds.
    /// </summary>
    public int BreakerMinimumThroughput { get; init; } = 20;

    public TimeSpan BreakerSampling { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open circuit fails calls at once before it lets one probe through.</summary>
    public TimeSpan BreakerBreak { get; init; } = TimeSpan.FromSeconds(10);

    internal static class Names
    {
        public const string Retries = "retries";
        public const string RetryDelaySeconds = "retryDelaySeconds";
        public const string RetryMaxDelaySeconds = "retryMaxDelaySeconds";
        public const string AttemptTimeoutSeconds = "attemptTimeoutSeconds";
        public const string TimeoutSeconds = "timeoutSeconds";
        public const string BreakerFailureRatio = "breakerFailureRatio";
        public const string BreakerMinimumThroughput = "breakerMinimumThroughput";
        public const string BreakerSamplingSeconds = "breakerSamplingSeconds";
        public const string BreakerBreakSeconds = "breakerBreakSeconds";
    }

    /// <summary>Reads the options of a dataset; a bad value fails naming the dataset, the option and the expected range.</summary>
    public static SourceResilienceOptions From(SourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var defaults = new SourceResilienceOptions();
        var parsed = new SourceResilienceOptions
        {
            Retries = options.GetInt(Names.Retries, defaults.Retries, 0, 20),
            RetryDelay = options.GetSeconds(Names.RetryDelaySeconds, defaults.RetryDelay, 0, 60),
            RetryMaxDelay = options.GetSeconds(Names.RetryMaxDelaySeconds, defaults.RetryMaxDelay, 0, 300),
            AttemptTimeout = options.GetSeconds(Names.AttemptTimeoutSeconds, defaults.AttemptTimeout, 0.01, 3600),
            Timeout = options.GetSeconds(Names.TimeoutSeconds, defaults.Timeout, 0.01, 86400),
            BreakerFailureRatio = options.GetDouble(Names.BreakerFailureRatio, defaults.BreakerFailureRatio, 0.01, 1),
            BreakerMinimumThroughput = options.GetInt(Names.BreakerMinimumThroughput, defaults.BreakerMinimumThroughput, 2, 100_000),
            BreakerSampling = options.GetSeconds(Names.BreakerSamplingSeconds, defaults.BreakerSampling, 0.5, 86400),
            BreakerBreak = options.GetSeconds(Names.BreakerBreakSeconds, defaults.BreakerBreak, 0.5, 86400),
        };

        if (parsed.AttemptTimeout > parsed.Timeout)
        {
            throw new ArgumentException(
                $"dataset '{options.DatasetName}': option '{Names.AttemptTimeoutSeconds}' ({parsed.AttemptTimeout.TotalSeconds} s) is longer than '{Names.TimeoutSeconds}' ({parsed.Timeout.TotalSeconds} s); one attempt must fit in the overall timeout");
        }

        return parsed;
    }
}
