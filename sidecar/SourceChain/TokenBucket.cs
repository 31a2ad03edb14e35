namespace Fluid.Serverless.Sidecar.SourceChain;

/// <summary>
/// A bandwidth cap shared by every prefetch worker: callers take bytes and wait while the bucket is in debt.
/// Allowing debt (instead of waiting for a full block's worth of tokens) keeps the long-run rate exact for requests
/// larger than the bucket and keeps it simple; the burst is one second of traffic.
/// </summary>
internal sealed class TokenBucket
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly double _bytesPerSecond;
    private double _tokens;
    private long _lastRefill;

    public TokenBucket(long bytesPerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        _time = time;
        _bytesPerSecond = bytesPerSecond;
        _tokens = bytesPerSecond;
        _lastRefill = time.GetTimestamp();
    }

    public long BytesPerSecond => (long)_bytesPerSecond;

    /// <summary>Takes <paramref name="bytes"/>; completes at once while within the rate, else after the debt is paid.</summary>
    public ValueTask TakeAsync(long bytes, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_bytesPerSecond, _tokens + (_time.GetElapsedTime(_lastRefill, now).TotalSeconds * _bytesPerSecond));
            _lastRefill = now;
            _tokens -= bytes;
            if (_tokens >= 0)
            {
                return ValueTask.CompletedTask;
            }

            wait = TimeSpan.FromSeconds(-_tokens / _bytesPerSecond);
        }

        return new ValueTask(Task.Delay(wait, _time, cancellationToken));
    }
}
