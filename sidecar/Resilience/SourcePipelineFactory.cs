using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Fluid.Serverless.Sidecar.Resilience;

/// <summary>
/// Builds the one pipeline each source runs its remote calls through, outermost first: the overall timeout, retries
/// with jittered exponential backoff, the circuit breaker (inside the retries, so every attempt counts and an open
/// circuit stops the retrying at once), and the per-attempt timeout.
/// </summary>
public static class SourcePipelineFactory
{
    public static ResiliencePipeline Create(string sourceIdentity, SourceResilienceOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var shouldHandle = new PredicateBuilder().Handle<Exception>(static e => e is not BrokenCircuitException && TransientFailures.IsTransient(e));
        var builder = new ResiliencePipelineBuilder { Name = sourceIdentity, TimeProvider = timeProvider };
        builder.AddTimeout(new TimeoutStrategyOptions { Timeout = options.Timeout, Name = "overall" });
        if (options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = shouldHandle,
                MaxRetryAttempts = options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.RetryMaxDelay,
                OnRetry = args =>
                {
                    SourceLog.Retrying(logger, sourceIdentity, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message);
                    return ValueTask.CompletedTask;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = shouldHandle,
            FailureRatio = options.BreakerFailureRatio,
            MinimumThroughput = options.BreakerMinimumThroughput,
            SamplingDuration = options.BreakerSampling,
            BreakDuration = options.BreakerBreak,
            OnOpened = args =>
            {
                SourceLog.CircuitOpened(logger, sourceIdentity, args.BreakDuration.TotalSeconds, args.Outcome.Exception?.Message);
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                SourceLog.CircuitClosed(logger, sourceIdentity);
                return ValueTask.CompletedTask;
            },
        });
        builder.AddTimeout(new TimeoutStrategyOptions { Timeout = options.AttemptTimeout, Name = "attempt" });
        return builder.Build();
    }
}

internal static partial class SourceLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Source {Source}: retry {Attempt} in {DelayMs:F0} ms after: {Reason}")]
    public static partial void Retrying(ILogger logger, string source, int attempt, double delayMs, string? reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Source {Source}: circuit opened for {BreakSeconds:F1} s; calls fail fast until a probe succeeds. Last failure: {Reason}")]
    public static partial void CircuitOpened(ILogger logger, string source, double breakSeconds, string? reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Source {Source}: circuit closed, the remote answers again")]
    public static partial void CircuitClosed(ILogger logger, string source);
}
