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
internal static class SourcePipelineFactory
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

        var breaker = new CircuitBreakerStrategyOptions { ShouldHandle = shouldHandle };
        WithBreakerSettings(breaker, sourceIdentity, options, logger, static outcome => outcome.Exception?.Message);
        builder.AddCircuitBreaker(breaker);
        builder.AddTimeout(new TimeoutStrategyOptions { Timeout = options.AttemptTimeout, Name = "attempt" });
        return builder.Build();
    }

    /// <summary>
    /// Fills a circuit breaker's thresholds from <paramref name="options"/> and logs its opening and closing: the one
    /// breaker configuration for sources and for the passthrough upstream (which judges answers, not exceptions).
    /// </summary>
    public static CircuitBreakerStrategyOptions<TResult> WithBreakerSettings<TResult>(
        CircuitBreakerStrategyOptions<TResult> breaker, string name, SourceResilienceOptions options, ILogger logger, Func<Outcome<TResult>, string?> describeFailure)
    {
        ArgumentNullException.ThrowIfNull(breaker);
        ArgumentNullException.ThrowIfNull(options);
        breaker.FailureRatio = options.BreakerFailureRatio;
        breaker.MinimumThroughput = options.BreakerMinimumThroughput;
        breaker.SamplingDuration = options.BreakerSampling;
        breaker.BreakDuration = options.BreakerBreak;
        breaker.OnOpened = args =>
        {
            SourceLog.CircuitOpened(logger, name, args.BreakDuration.TotalSeconds, describeFailure(args.Outcome));
            return ValueTask.CompletedTask;
        };
        breaker.OnClosed = _ =>
        {
            SourceLog.CircuitClosed(logger, name);
            return ValueTask.CompletedTask;
        };
        return breaker;
    }
}

internal static partial class SourceLog
{
    [LoggerMessage(EventId = EventIds.SourceRetrying, Level = LogLevel.Warning, Message = "Source {Source}: retry {Attempt} in {DelayMs:F0} ms after: {Reason}")]
    public static partial void Retrying(ILogger logger, string source, int attempt, double delayMs, string? reason);

    [LoggerMessage(EventId = EventIds.SourceCircuitOpened, Level = LogLevel.Error, Message = "Source {Source}: circuit opened for {BreakSeconds:F1} s; calls fail fast until a probe succeeds. Last failure: {Reason}")]
    public static partial void CircuitOpened(ILogger logger, string source, double breakSeconds, string? reason);

    [LoggerMessage(EventId = EventIds.SourceCircuitClosed, Level = LogLevel.Information, Message = "Source {Source}: circuit closed, the remote answers again")]
    public static partial void CircuitClosed(ILogger logger, string source);
}
